"""Helm chart repositories over HTTP(S): reading `index.yaml` and downloading one chart archive.

Plain HTTP from this process rather than the Helm SDK: a socket timeout bounds an unreachable repository
(the SDK's Go call cannot be interrupted), a password goes into a header and nowhere else, and the parent
never loads the Go runtime (a process holding it must not fork). The credentials are sent, as Helm
sends them, only to the repository's own scheme and host (`--pass-credentials` is not followed), and
never along a redirect. Every error names the URL, masked, and is scrubbed.
"""

from __future__ import annotations

import base64
import logging
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from driftcheck.fetch.repo_credentials import RepoCredential as Credential
from driftcheck.model import DriftcheckError
from driftcheck.render.yaml import MAX_FILE_BYTES, YAMLStreamError, load_single
from driftcheck.scrub import mask_url, scrub
from driftcheck.textsafe import for_terminal

log = logging.getLogger(__name__)

MAX_INDEX_BYTES = MAX_FILE_BYTES  # the largest public indexes are a few tens of MiB
_CHUNK = 1 << 16


class RepositoryError(DriftcheckError):
    """A repository that could not be read; the message names the URL and never a credential."""


@dataclass(frozen=True)
class ChartVersion:
    """One entry of an index: a chart at one version, where its archive is, and its sha256 if given."""

    name: str
    version: str
    urls: tuple[str, ...]
    digest: str  # hex, lower case; "" when the index carries none


def read_index(repo_url: str, credential: Credential | None, timeout: float
               ) -> tuple[dict[str, list[ChartVersion]], bytes]:
    """The charts of repo_url's index.yaml by name, each newest first as the index lists them, and the
    index's bytes (for the cache)."""
    url = index_url(repo_url)
    data = get(url, credential, timeout, max_bytes=MAX_INDEX_BYTES, send_credentials=True)
    return parse_index(data, url), data


def index_url(repo_url: str) -> str:
    return repo_url.rstrip("/") + "/index.yaml"


def parse_index(data: bytes, url: str) -> dict[str, list[ChartVersion]]:
    """index.yaml's entries; a version entry Helm would skip (no version, no URL) is skipped too."""
    try:
        index = load_single(data)
    except YAMLStreamError as e:
        raise RepositoryError(f"{mask_url(url)}: not a chart repository index: {e}") from None
    entries = index.get("entries") if isinstance(index, dict) else None
    if not isinstance(entries, dict):
        raise RepositoryError(f"{mask_url(url)}: not a chart repository index (no `entries` map)")
    charts: dict[str, list[ChartVersion]] = {}
    for name, versions in entries.items():
        items = versions if isinstance(versions, list) else []
        found = [e for e in (_entry(str(name), item) for item in items) if e is not None]
        if len(found) < len(items):
            log.warning("%s: chart %s: %d entries without a version or URL are skipped", mask_url(url),
                        for_terminal(str(name)), len(items) - len(found))
        if found:
            charts[str(name)] = found
    return charts


def _entry(name: str, item: Any) -> ChartVersion | None:
    if not isinstance(item, dict):
        return None
    version, urls, digest = item.get("version"), item.get("urls"), item.get("digest")
    if version is None or not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        return None
    return ChartVersion(name, str(version), tuple(urls), digest.lower() if isinstance(digest, str) else "")


def chart_url(repo_url: str, entry: ChartVersion) -> str:
    """The archive's URL: absolute as given, or relative to the repository (Helm's ResolveReferenceURL)."""
    return urljoin(repo_url.rstrip("/") + "/", entry.urls[0])


def same_origin(left: str, right: str) -> bool:
    a, b = urlsplit(left), urlsplit(right)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def get(url: str, credential: Credential | None, timeout: float, *, max_bytes: int,
        send_credentials: bool) -> bytes:
    """The body of url, at most max_bytes, within timeout."""
    with tempfile.TemporaryFile() as buffer:
        _fetch(url, buffer, credential, timeout, max_bytes, send_credentials)
        buffer.seek(0)
        return buffer.read()


def download(url: str, dest: Path, credential: Credential | None, timeout: float, *, max_bytes: int,
             send_credentials: bool) -> None:
    """Write the body of url to dest, at most max_bytes, within timeout."""
    with dest.open("wb") as out:
        _fetch(url, out, credential, timeout, max_bytes, send_credentials)


def _fetch(url: str, out: IO[bytes], credential: Credential | None, timeout: float, max_bytes: int,
           send_credentials: bool) -> None:
    """Copy url's body to out. Each wait on the network is bounded by timeout, and the whole body by the
    deadline: a repository that trickles bytes is cut off as one that never answers."""
    shown = mask_url(url)
    if urlsplit(url).scheme not in ("http", "https"):
        raise RepositoryError(f"{shown}: only http:// and https:// chart repositories can be read")
    request = urllib.request.Request(url, headers={"User-Agent": "driftcheck", "Accept": "*/*"})
    if credential is not None and send_credentials and (credential.username or credential.password):
        token = base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode("ascii")
        request.add_unredirected_header("Authorization", f"Basic {token}")
    deadline = time.monotonic() + timeout
    try:
        with _opener(credential) as opener, opener.open(request, timeout=timeout) as response:
            if not copy_within(response, out, max_bytes, deadline):
                raise RepositoryError(f"{shown}: larger than {max_bytes} bytes; not downloaded")
    except urllib.error.HTTPError as e:
        raise RepositoryError(scrub(_http_error(shown, e.code, e.reason, credential))) from None
    except TimeoutError:
        raise RepositoryError(f"{shown}: no answer within {timeout:g} s (--request-timeout)") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, TimeoutError):
            raise RepositoryError(f"{shown}: no answer within {timeout:g} s (--request-timeout)") from None
        detail = getattr(reason, "strerror", None) or str(reason)
        raise RepositoryError(scrub(f"{shown}: cannot connect: {for_terminal(str(detail))}")) from None
    except (OSError, ssl.SSLError) as e:
        raise RepositoryError(scrub(f"{shown}: {for_terminal(str(e.strerror or e))}")) from None


def _http_error(shown: str, code: int, reason: Any, credential: Credential | None) -> str:
    if code in (401, 403):
        given = credential is not None and bool(credential.username or credential.password)
        why = ("the repository refused the credentials given for it" if given else
               "the repository wants credentials and none are configured for it (--repo-creds)")
        return f"{shown}: HTTP {code} ({'unauthorized' if code == 401 else 'forbidden'}): {why}"
    if code == 404:
        return f"{shown}: HTTP 404 (not found)"
    return f"{shown}: HTTP {code} ({for_terminal(str(reason))[:100]})"


def copy_within(response: IO[bytes], out: IO[bytes], max_bytes: int, deadline: float,
                hasher: Any = None) -> bool:
    """Copy a response to out chunk by chunk (and into hasher); False, stopping, once it is past
    max_bytes; TimeoutError past deadline: a slow server cannot stretch the whole answer's time."""
    size = 0
    while chunk := response.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            return False
        if time.monotonic() > deadline:
            raise TimeoutError
        out.write(chunk)
        if hasher is not None:
            hasher.update(chunk)
    return True


@contextmanager
def _opener(credential: Credential | None) -> Iterator[urllib.request.OpenerDirector]:
    """An opener whose TLS follows the credential: verification off when `insecure`, and a client
    certificate, which `ssl` takes only from files (written 0600 into a private directory, removed)."""
    context = ssl.create_default_context()
    if credential is not None and credential.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with tempfile.TemporaryDirectory(prefix="driftcheck-tls-") as tmp:
        if credential is not None and credential.tls_client_cert:
            cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            for path, text in ((cert, credential.tls_client_cert), (key, credential.tls_client_key)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text)
            try:
                context.load_cert_chain(cert, key if credential.tls_client_key else None)
            except (ssl.SSLError, OSError):
                raise RepositoryError("the TLS client certificate or key of the repository's credential "
                                      "cannot be loaded") from None
        yield urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
