"""Helm charts from OCI registries: the tags of a chart and one version's archive, within a timeout.

The Helm SDK cannot be interrupted in a registry call, so each call runs in a spawned child that is
killed at the timeout. Unlike a renderer child it keeps the network (fetching is its job) but nothing
else of ours: a private HOME and Docker config, and a credentials file in a private temporary directory
that goes with it; the password travels to the child through a pipe, never argv or the environment.
Errors name the reference and say unauthorized, unknown version or unreachable; credentials are
scrubbed from whatever the registry said.
"""

from __future__ import annotations

import contextlib
import ipaddress
import multiprocessing
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from driftcheck.fetch.repo_credentials import RepoCredential
from driftcheck.model import DriftcheckError
from driftcheck.scrub import scrub

OCI = "oci://"
_KEPT = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
         "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR")
_DETAIL_MAX = 300
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


class OciError(DriftcheckError):
    """A registry call that failed; the message names the reference and never a credential."""


@dataclass(frozen=True)
class _Call:
    """What the child does: `tags` of ref, or `pull` of ref at version into dest; login first if asked."""

    op: str
    ref: str
    version: str
    dest: str
    plain_http: bool
    insecure: bool
    login: tuple[str, str, str] | None  # (host, username, password)


def is_oci_repository(url: str, credential: RepoCredential | None) -> bool:
    """Whether ArgoCD pulls a `chart:` from url as OCI: oci://, a credential with enableOCI, or a URL
    without a host (`registry.example.com/charts`: Go's url.Parse sees no host; `helm.IsHelmOciRepo`)."""
    return url.startswith(OCI) or bool(credential and credential.enable_oci) or _has_no_host(url)


def chart_reference(url: str, chart: str) -> str:
    """oci://host/path/chart for a repository URL with or without the oci:// scheme."""
    return f"{OCI}{url.removeprefix(OCI).rstrip('/')}/{chart}"


def oci_versions(url: str, chart: str, credential: RepoCredential | None, timeout: float) -> list[str]:
    """The chart's semver tags in the registry, newest first."""
    ref = chart_reference(url, chart)
    tags = _run(_call("tags", ref, "", "", credential), timeout, credential)
    return [str(t) for t in tags]


def is_digest(version: str) -> bool:
    """A manifest digest (a Flux OCIRepository's ref.digest) rather than a tag."""
    return _DIGEST.match(version) is not None


def pull_oci_chart(url: str, chart: str, version: str, dest: Path, credential: RepoCredential | None,
                   timeout: float) -> Path:
    """The chart archive at exactly version (a tag, or a manifest digest pulled as chart@digest: the
    registry client checks the manifest and the layer against their digests), as
    dest/<chart>-<version>.tgz."""
    ref = chart_reference(url, chart)
    call = _call("pull", f"{ref}@{version}", "", "", credential) if is_digest(version) else \
        _call("pull", ref, version, "", credential)
    dest.mkdir(parents=True, exist_ok=True)
    landing = Path(tempfile.mkdtemp(prefix=".pull-", dir=dest))
    try:
        _run(replace(call, dest=str(landing)), timeout, credential)
        archives = sorted(landing.glob("*.tgz"))
        if len(archives) != 1:
            raise OciError(f"{ref}:{version}: the registry returned no chart archive")
        target = dest / f"{chart.rsplit('/', 1)[-1]}-{version.replace(':', '-')}.tgz"
        os.replace(archives[0], target)
        return target
    finally:
        shutil.rmtree(landing, ignore_errors=True)


def _call(op: str, ref: str, version: str, dest: str, credential: RepoCredential | None) -> _Call:
    host = ref.removeprefix(OCI).split("/", 1)[0]
    if credential and credential.tls_client_cert:
        raise OciError(f"{ref}: TLS client certificates ({credential.source}) are not supported for OCI "
                       "registries: the Helm SDK has no option for them")
    login = (host, credential.username, credential.password) if credential and credential.password else None
    plain = _loopback(host) or bool(credential and credential.insecure_oci_force_http)
    return _Call(op, ref, version, dest, plain, bool(credential and credential.insecure), login)


def _run(call: _Call, timeout: float, credential: RepoCredential | None) -> Any:
    """call in a spawned child, killed at the timeout; its result, or OciError in words."""
    shown = f"{call.ref}:{call.version}" if call.version else call.ref
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="driftcheck-oci-") as home:
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_child, args=(send, home, call), daemon=True)
        child.start()
        send.close()
        try:
            if not wait([receive, child.sentinel], timeout):
                raise OciError(f"{shown}: registry unreachable: no answer within {timeout:g} s")
            with contextlib.suppress(EOFError, OSError):
                ok, value = receive.recv()
                if ok:
                    return value
                raise OciError(f"{shown}: {_explain(str(value), call, credential)}")
            raise OciError(f"{shown}: the registry client died (exit {child.exitcode})")
        finally:
            receive.close()
            if child.is_alive():
                child.kill()
            child.join()


def _explain(message: str, call: _Call, credential: RepoCredential | None) -> str:
    """The registry's answer as a reason a reader acts on, then what it said (scrubbed, shortened)."""
    text = message.lower()
    who = f"the credentials of {credential.source}" if credential and credential.password else "no credential"
    if "401" in text or "unauthorized" in text or "credential not found" in text:
        reason = f"unauthorized (401) with {who}"
        if credential and credential.unsupported:
            reason += f" ({', '.join(credential.unsupported)} cannot be used for charts)"
    elif "403" in text or "denied" in text:
        reason = f"access denied (403) with {who}"
    elif call.op == "pull" and "not found" in text:
        reason = f"unknown version {call.version}" if call.version else "no manifest of that digest"
    elif "404" in text or "name unknown" in text or "not found" in text:
        reason = "no such chart in the registry (404)"
    elif any(s in text for s in ("dial tcp", "connection refused", "no such host", "timeout", "eof")):
        reason = "registry unreachable"
    else:
        reason = "registry error"
    detail = " ".join(scrub(message).split())
    if len(detail) > _DETAIL_MAX:
        detail = detail[:_DETAIL_MAX] + " …"
    return f"{reason}: {detail}"


def _child(send: Connection, home: str, call: _Call) -> None:
    """The child's side: a private HOME and environment, log in through a private credentials file,
    do the call, send back (True, result) or (False, message)."""
    env = {name: os.environ[name] for name in _KEPT if name in os.environ}
    env.update(HOME=home, DOCKER_CONFIG=f"{home}/docker", HELM_CONFIG_HOME=f"{home}/helm",
               HELM_CACHE_HOME=f"{home}/cache", HELM_DATA_HOME=f"{home}/data")
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 2)  # the Go runtime's chatter; results and errors come back through the pipe
    os.close(fd)
    try:
        import helm_python
    except ImportError:
        send.send((False, "OCI chart, but the Helm SDK is missing: `pip install 'driftcheck[helm]'`"))
        return
    try:
        with helm_python.RegistryClient(plain_http=call.plain_http,
                                        credentials_file=Path(home) / "registry.json") as client:
            if call.login:
                host, username, password = call.login
                client.login(host, username, password, insecure=call.insecure, plain_http=call.plain_http)
            if call.op == "tags":
                send.send((True, client.tags(call.ref)))
            else:
                helm_python.pull(call.ref, client=client, version=call.version or None, destination=call.dest,
                                 plain_http=call.plain_http, insecure_skip_tls_verify=call.insecure)
                send.send((True, ""))
    except helm_python.HelmError as e:
        send.send((False, str(e)))


def _loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 or host.startswith("[") else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _has_no_host(url: str) -> bool:
    """Go's url.Parse(url) succeeds with an empty Host: no `//` authority, and no colon in a scheme-less
    first segment (`registry.example.com/charts` and `localhost:5000/x` (scheme:opaque) are; `10.0.0.1:5000/x`
    is a parse error)."""
    scheme = _SCHEME.match(url)
    rest = url[scheme.end():] if scheme else url
    if rest.startswith("//"):
        return rest[2:].split("/", 1)[0] == ""
    return bool(url) and (scheme is not None or ":" not in url.split("/", 1)[0])
