"""A cluster reached with credentials held in memory (an ArgoCD cluster Secret's bearer token and TLS
data), never written to disk or argv: the client's `Configuration` is built here, not from a kubeconfig.

Python's ssl module loads certificates only from a path, so each PEM is put in an anonymous memory file
(`memfd_create`, close-on-exec: no renderer child inherits it) and named by its /proc/self/fd path; the
files live as long as the connection and are closed with it. Every credential is registered with
`driftcheck.scrub` before anything can quote it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import urllib3

from driftcheck import scrub
from driftcheck.model import DriftcheckError

if TYPE_CHECKING:  # the client is imported by a live read only: every run plans its clusters through here
    from kubernetes.client import Configuration


@dataclass(frozen=True)
class MemoryCredentials:
    """What ArgoCD's ClusterConfig gives one cluster: a bearer token and TLS client configuration."""

    server: str
    label: str  # where they come from ("Secret argocd/prod-eu"): stands for the kubeconfig context
    bearer_token: str = field(default="", repr=False)
    ca_pem: bytes = field(default=b"", repr=False)
    cert_pem: bytes = field(default=b"", repr=False)
    key_pem: bytes = field(default=b"", repr=False)
    insecure: bool = False
    server_name: str = ""  # TLS SNI and the name the certificate must carry

    def register(self) -> None:
        """Every secret value (the token, the client key's lines) hidden from all messages."""
        scrub.register(self.bearer_token)
        scrub.register(*[line for line in self.key_pem.decode(errors="replace").splitlines()
                         if line.strip() and "-----" not in line])


def memory_configuration(credentials: MemoryCredentials) -> tuple[Configuration, list[int]]:
    """The client configuration for credentials, and the memory files it reads (close them when done)."""
    credentials.register()
    token = credentials.bearer_token.strip()
    if not token or not token.isprintable() or " " in token:
        raise DriftcheckError(f"{credentials.label}: the bearer token is empty or holds white space or "
                              "control characters, so it cannot be sent")
    from kubernetes.client import Configuration

    configuration = Configuration()
    configuration.host = credentials.server
    configuration.api_key = {"BearerToken": f"Bearer {token}"}
    fds: list[int] = []
    try:
        if credentials.ca_pem:
            configuration.ssl_ca_cert = _memory_file(credentials.ca_pem, "ca", fds)
        if credentials.cert_pem or credentials.key_pem:
            if not (credentials.cert_pem and credentials.key_pem):
                raise DriftcheckError(f"{credentials.label}: tlsClientConfig needs both certData and keyData")
            configuration.cert_file = _memory_file(credentials.cert_pem, "cert", fds)
            configuration.key_file = _memory_file(credentials.key_pem, "key", fds)
    except BaseException:
        close_files(fds)
        raise
    if credentials.server_name and hasattr(configuration, "tls_server_name"):
        configuration.tls_server_name = credentials.server_name
    if str(credentials.server).lower().startswith("http://"):
        print(f"driftcheck: warning: {credentials.label}: the server is plain http://, the bearer token is "
              "sent unencrypted", file=sys.stderr)
    if credentials.insecure:
        configuration.verify_ssl = False
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        print(f"driftcheck: warning: {credentials.label}: tlsClientConfig.insecure is set, the API server's "
              "certificate is not verified", file=sys.stderr)
    return configuration, fds


def close_files(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()


def _memory_file(data: bytes, name: str, fds: list[int]) -> str:
    """data in an anonymous, close-on-exec memory file; its path for the ssl module."""
    if not hasattr(os, "memfd_create"):
        raise DriftcheckError("reading a cluster through its Secret's TLS data needs Linux (memfd_create)")
    fd = os.memfd_create(f"driftcheck-{name}", os.MFD_CLOEXEC)
    fds.append(fd)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    return f"/proc/self/fd/{fd}"
