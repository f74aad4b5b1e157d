"""The OCI distribution API over plain HTTP(S): a repository's tags, a manifest, a blob, within a timeout.

Plain HTTP from this process, as `chart_http` reads chart repositories: a socket timeout bounds an
unreachable registry and the whole body a deadline, so one that trickles bytes is cut off too. A registry
that answers 401 says how to authenticate in `WWW-Authenticate`: `Basic` gets the credential's username
and password; `Bearer realm=…,service=…,scope=…` gets a token from the realm (sent the same basic
credential, or none for anonymous pulls) that then goes to the registry. Authorization headers never
follow a redirect (a blob is often served from other storage), and every error names the URL, masked and
scrubbed; the token is registered with the scrubber the moment it arrives.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlencode, urljoin

from driftcheck import scrub
from driftcheck.fetch.chart_http import copy_within
from driftcheck.fetch.repo_credentials import RepoCredential
from driftcheck.model import DriftcheckError
from driftcheck.scrub import mask_url
from driftcheck.textsafe import for_terminal

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MAX_MANIFEST_BYTES = 4 << 20  # the distribution spec's advice; registries refuse larger ones
MAX_TAG_PAGES = 100
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


class RegistryError(DriftcheckError):
    """A registry call that failed; the message names the URL and never a credential."""


@dataclass(frozen=True)
class Response:
    body: bytes
    headers: Mapping[str, str]


@dataclass
class RegistryClient:
    """One repository (`oci://HOST/NAME`) of one registry, with the credential the creds file gives it."""

    url: str
    credential: RepoCredential | None
    timeout: float
    insecure: bool = False  # spec.insecure: plain HTTP allowed, TLS unverified
    _authorization: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self.url.startswith("oci://"):
            raise RegistryError(f"{mask_url(self.url)}: an OCIRepository URL must be oci://HOST/NAME")
        host, _, name = self.url.removeprefix("oci://").partition("/")
        name = name.rstrip("/")
        if not host or not _NAME.match(name):
            raise RegistryError(f"{mask_url(self.url)}: not an OCI repository reference (oci://HOST/NAME, "
                                "lower case, no tag)")
        self.host, self.name = host, name
        self.base = f"{'http' if self.insecure or plain_http_host(host) else 'https'}://{host}/v2/{name}"

    def tags(self) -> list[str]:
        """Every tag of the repository, following `Link: <…>; rel="next"` pages."""
        tags: list[str] = []
        url: str | None = f"{self.base}/tags/list"
        for _ in range(MAX_TAG_PAGES):
            if url is None:
                return tags
            response = self.get(url, "application/json", MAX_MANIFEST_BYTES)
            try:
                listed = json.loads(response.body).get("tags") or []
            except (ValueError, AttributeError):
                raise RegistryError(f"{mask_url(url)}: the tag list is not JSON") from None
            tags += [str(t) for t in listed]
            url = _next_page(url, response.headers.get("Link", ""))
        raise RegistryError(f"{mask_url(self.base)}/tags/list: more than {MAX_TAG_PAGES} pages of tags")

    def manifest(self, reference: str) -> tuple[bytes, str]:
        """The manifest (or index) at a tag or digest: its bytes, checked against the digest when one was
        asked for or the registry named one, and its digest."""
        url = f"{self.base}/manifests/{reference}"
        response = self.get(url, ", ".join((*MANIFEST_TYPES, *INDEX_TYPES)), MAX_MANIFEST_BYTES)
        digest = "sha256:" + hashlib.sha256(response.body).hexdigest()
        said = response.headers.get("Docker-Content-Digest", "")
        expected = reference if reference.startswith("sha256:") else said if said.startswith("sha256:") \
            else ""
        if expected and expected != digest:
            raise RegistryError(f"{mask_url(url)}: the manifest's digest is {digest}, not "
                                f"{for_terminal(expected)}; refused")
        return response.body, digest

    def blob(self, digest: str, size: int, dest: Path, max_bytes: int) -> None:
        """Write the blob of digest to dest; refused when its bytes do not have that digest or size."""
        url = f"{self.base}/blobs/{digest}"
        if size > max_bytes:
            raise RegistryError(f"{mask_url(url)}: the layer is {size} bytes, over the limit of {max_bytes}")
        h = hashlib.sha256()
        with dest.open("wb") as out:
            self._request(url, "*/*", out, max_bytes, h)
        actual = f"sha256:{h.hexdigest()}"
        if actual != digest:
            raise RegistryError(f"{mask_url(url)}: the layer's digest is {actual}, not {digest}; refused")
        if size >= 0 and dest.stat().st_size != size:
            raise RegistryError(f"{mask_url(url)}: the layer is {dest.stat().st_size} bytes, the manifest "
                                f"says {size}; refused")

    def get(self, url: str, accept: str, max_bytes: int) -> Response:
        with tempfile.TemporaryFile() as buffer:
            headers = self._request(url, accept, buffer, max_bytes, None)
            buffer.seek(0)
            return Response(buffer.read(), headers)

    def _request(self, url: str, accept: str, out: IO[bytes], max_bytes: int,
                 h: hashlib._Hash | None) -> Mapping[str, str]:
        """GET url into out; on a 401 authenticate as the challenge asks, once, then again."""
        try:
            return self._once(url, accept, out, max_bytes, h)
        except urllib.error.HTTPError as e:
            if e.code != 401 or self._authorization:
                raise RegistryError(scrub.scrub(self._http_error(url, e))) from None
            self._authorization = self._authenticate(url, e.headers.get("WWW-Authenticate", ""))
            out.seek(0)
            out.truncate()
            try:
                return self._once(url, accept, out, max_bytes, h)
            except urllib.error.HTTPError as again:
                raise RegistryError(scrub.scrub(self._http_error(url, again))) from None

    def _once(self, url: str, accept: str, out: IO[bytes], max_bytes: int,
              h: hashlib._Hash | None) -> Mapping[str, str]:
        request = urllib.request.Request(url, headers={"User-Agent": "driftcheck", "Accept": accept})
        if self._authorization:
            request.add_unredirected_header("Authorization", self._authorization)
        return self._read(request, out, max_bytes, h)

    def _read(self, request: urllib.request.Request, out: IO[bytes], max_bytes: int,
              h: hashlib._Hash | None) -> Mapping[str, str]:
        shown = mask_url(request.full_url)
        deadline = time.monotonic() + self.timeout
        try:
            with _opener(self.insecure).open(request, timeout=self.timeout) as response:
                if not copy_within(response, out, max_bytes, deadline, h):
                    raise RegistryError(f"{shown}: larger than {max_bytes} bytes; not downloaded")
                return {k.title(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError:
            raise
        except TimeoutError:
            raise RegistryError(f"{shown}: no answer within {self.timeout:g} s (--request-timeout)") from None
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, TimeoutError):
                raise RegistryError(f"{shown}: no answer within {self.timeout:g} s (--request-timeout)"
                                    ) from None
            detail = getattr(reason, "strerror", None) or str(reason)
            message = f"{shown}: cannot connect: {for_terminal(str(detail))}"
            raise RegistryError(scrub.scrub(message)) from None
        except (OSError, ssl.SSLError) as e:
            raise RegistryError(scrub.scrub(f"{shown}: {for_terminal(str(e.strerror or e))}")) from None

    def _authenticate(self, url: str, challenge: str) -> str:
        """The Authorization header the registry's challenge asks for."""
        scheme = challenge.split(" ", 1)[0].lower()
        basic = self._basic()
        if scheme == "basic":
            if not basic:
                raise RegistryError(f"{mask_url(url)}: HTTP 401 (unauthorized): the registry wants "
                                    "credentials and none are configured for it (--repo-creds)")
            return basic
        if scheme != "bearer":
            raise RegistryError(f"{mask_url(url)}: HTTP 401 with an authentication scheme driftcheck does "
                                f"not speak ({for_terminal(challenge.split(' ', 1)[0])[:40]})")
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise RegistryError(f"{mask_url(url)}: HTTP 401 whose Bearer challenge names no token realm")
        query = {k: v for k, v in (("service", params.get("service", "")),
                                   ("scope", params.get("scope") or f"repository:{self.name}:pull")) if v}
        token_url = f"{realm}{'&' if '?' in realm else '?'}{urlencode(query)}"
        request = urllib.request.Request(token_url, headers={"User-Agent": "driftcheck",
                                                             "Accept": "application/json"})
        if basic:
            request.add_unredirected_header("Authorization", basic)
        with tempfile.TemporaryFile() as buffer:
            try:
                self._read(request, buffer, MAX_MANIFEST_BYTES, None)
            except urllib.error.HTTPError as e:
                raise RegistryError(scrub.scrub(self._http_error(token_url, e, token=True))) from None
            buffer.seek(0)
            try:
                answer = json.loads(buffer.read())
                token = answer.get("token") or answer.get("access_token")
            except (ValueError, AttributeError):
                token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{mask_url(token_url)}: the token service gave no token")
        scrub.register(token)
        return f"Bearer {token}"

    def _basic(self) -> str:
        c = self.credential
        if c is None or not (c.username or c.password):
            return ""
        return "Basic " + base64.b64encode(f"{c.username}:{c.password}".encode()).decode("ascii")

    def _http_error(self, url: str, e: urllib.error.HTTPError, token: bool = False) -> str:
        shown = mask_url(url)
        code = e.code
        if code in (401, 403):
            given = bool(self._basic())
            who = (f"the credentials of {self.credential.source}" if given and self.credential
                   else "no credential (--repo-creds)")
            what = "the token service" if token else "the registry"
            return f"{shown}: HTTP {code} ({'unauthorized' if code == 401 else 'forbidden'}): {what} " \
                   f"refused {who}"
        detail = ""
        try:
            errors = json.loads(e.read(MAX_MANIFEST_BYTES)).get("errors") or []
            detail = ", ".join(str(x.get("code")) for x in errors if isinstance(x, dict))[:100]
        except (ValueError, AttributeError, OSError):
            pass
        reason = "not found" if code == 404 else for_terminal(str(e.reason))[:100]
        return f"{shown}: HTTP {code} ({reason}{': ' + for_terminal(detail) if detail else ''})"


def plain_http_host(host: str) -> bool:
    """Where go-containerregistry speaks plain HTTP without `insecure`: localhost, loopback and
    RFC 1918 addresses (`name.Registry.Scheme`)."""
    name = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 or host.startswith("[") else host
    if name == "localhost" or name.endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or (address.version == 4 and address.is_private)


def _next_page(url: str, link: str) -> str | None:
    match = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', link)
    return urljoin(url, match.group(1)) if match else None


def _opener(insecure: bool) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
