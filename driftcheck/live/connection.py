"""Reaching the Kubernetes API server: kubeconfig, KUBECONFIG or in-cluster credentials, and GET with retries.

Every request goes through the official `kubernetes` client (`ApiClient.param_serialize`/`call_api`), so
kubeconfig auth (tokens, client certificates, exec plugins) and TLS behave as kubectl users expect. Only GET
is ever issued. Transient failures (429, 5xx, read timeouts, dropped connections) are retried with
exponential backoff that honours `Retry-After`; an unreachable server ends the run with one line, quickly.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import urllib3
import yaml
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException
from kubernetes.config import ConfigException, kube_config

from driftcheck.model import DriftcheckError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
IN_CLUSTER_CONTEXT = "in-cluster"
CONNECT_TIMEOUT = 5.0
RETRYABLE = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `attempts` per request, exponential backoff, and a cap on waiting to connect."""

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 30.0
    connect_deadline: float = 20.0  # stop retrying an unreachable server after this long (exit within 30 s)
    first_contact: float = 25.0  # GET /version gives up after this long: a hung server too ends within 30 s

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return min(self.backoff * 2 ** (attempt - 1), self.max_backoff)


DEFAULT_RETRY = RetryPolicy()


class ApiError(Exception):
    """A request the API server answered with an error (or never answered, status 0), after retries."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}" if status else f"{reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


class Connection:
    """An authenticated, read-only line to one API server; counts every HTTP request it makes."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, timeout: float = 30.0,
                 retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self.configuration, self.context = load_configuration(kubeconfig, context)
        self.configuration.retries = False  # retries are ours: bounded, logged, Retry-After aware
        self.server = strip_credentials(self.configuration.host)
        self.timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
        self.retry = retry
        self.requests = 0
        self._count = threading.Lock()  # requests may come from several threads
        self._client = ApiClient(self.configuration)

    def close(self) -> None:
        self._client.close()

    def get(self, path: str, query: list[tuple[str, str | int]] | None = None,
            budget: float | None = None) -> dict[str, Any]:
        """GET a JSON document; ApiError once retries (or `budget` seconds) are spent, DriftcheckError if
        the server cannot be reached at all."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            timeout = self.timeout
            if budget is not None:
                left = max(0.1, budget - (time.monotonic() - started))
                timeout = (min(timeout[0], left), min(timeout[1], left))
            with self._count:
                self.requests += 1
            try:
                status, data, retry_after = self._once(path, query or [], timeout)
            except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError,
                    urllib3.exceptions.NameResolutionError) as exc:
                deadline = min(self.retry.connect_deadline, budget or self.retry.connect_deadline)
                if self._spent(attempt, started, self.retry.delay(attempt), deadline):
                    raise DriftcheckError(f"cannot reach the Kubernetes API server {self.server} "
                                          f"(context {self.context}): {_cause(exc)}") from None
                time.sleep(self.retry.delay(attempt))
                continue
            except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError) as exc:
                if self._spent(attempt, started, self.retry.delay(attempt), budget):
                    timed_out = isinstance(exc, urllib3.exceptions.ReadTimeoutError)
                    cause = f"no answer within {timeout[1]:g}s" if timed_out else _cause(exc)
                    raise ApiError(0, "Timeout" if timed_out else "ConnectionLost",
                                   f"{cause} ({attempt} attempts)") from None
                time.sleep(self.retry.delay(attempt))
                continue
            except urllib3.exceptions.HTTPError as exc:  # a malformed server URL, an unknown scheme, ...
                raise DriftcheckError(f"cannot talk to the Kubernetes API server {self.server} "
                                      f"(context {self.context}): {_cause(exc)}") from None
            if 200 <= status < 300:
                return _json(data, path)
            reason, message = _status_text(status, data)
            if status == 401:
                raise DriftcheckError(f"the Kubernetes API server {self.server} rejected the credentials of "
                                      f"context {self.context} (401 Unauthorized)")
            if status in RETRYABLE:
                delay = self.retry.delay(attempt, retry_after)
                if not self._spent(attempt, started, delay, budget):
                    time.sleep(delay)
                    continue
                message = f"{message} (after {attempt} attempts)"
            raise ApiError(status, reason, message)

    def _spent(self, attempt: int, started: float, delay: float, budget: float | None) -> bool:
        """No retry left: attempts used up, or waiting `delay` more would pass the time budget."""
        return attempt >= self.retry.attempts or (
            budget is not None and time.monotonic() - started + delay >= budget)

    def _once(self, path: str, query: list[tuple[str, str | int]],
              timeout: tuple[float, float]) -> tuple[int, bytes, float | None]:
        method, url, headers, _, _ = self._client.param_serialize(
            "GET", path, query_params=query, header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"])
        try:
            response = self._client.call_api(method, url, headers, _request_timeout=timeout)
        except ApiException as exc:  # the client reports TLS failures this way
            reason = re.sub(r"\s*\(_ssl\.c:\d+\)", "", " ".join(str(exc.reason).split()))
            raise DriftcheckError(f"cannot talk to the Kubernetes API server {self.server}: {reason}") \
                from None
        data = response.read()
        return response.status, data, _retry_after(response.headers.get("Retry-After"))


def load_configuration(kubeconfig: str | None, context: str | None) -> tuple[Configuration, str]:
    """--kubeconfig, else KUBECONFIG, else the Pod's service account, else ~/.kube/config; and the context."""
    configuration = Configuration()
    config_file = kubeconfig or os.environ.get("KUBECONFIG")
    if not config_file and context is None and _in_cluster():
        from kubernetes.config.incluster_config import InClusterConfigLoader

        try:
            loader = InClusterConfigLoader(token_filename=str(SERVICE_ACCOUNT_DIR / "token"),
                                           cert_filename=str(SERVICE_ACCOUNT_DIR / "ca.crt"))
            loader.load_and_set(configuration)
        except ConfigException as exc:
            raise DriftcheckError(f"in-cluster configuration: {exc}") from None
        return configuration, IN_CLUSTER_CONTEXT
    config_file = config_file or str(Path("~/.kube/config").expanduser())
    paths = [p for p in config_file.split(os.pathsep) if p]
    if not any(Path(p).expanduser().is_file() for p in paths):
        raise DriftcheckError(f"no kubeconfig at {config_file} (and not running inside a Pod); "
                              "pass --kubeconfig or --live-snapshot")
    try:
        names, current = _contexts(paths)
        chosen = context or current
        if not chosen:
            raise DriftcheckError(f"kubeconfig {config_file} has no current context; pass --context "
                                  f"(one of: {', '.join(names) or 'none'})")
        if chosen not in names:
            raise DriftcheckError(f"context {chosen!r} not found in kubeconfig {config_file} "
                                  f"(contexts: {', '.join(names) or 'none'})")
        kube_config.load_kube_config(config_file, context=chosen, client_configuration=configuration,
                                     persist_config=False)  # never write to the user's kubeconfig
    except (ConfigException, OSError, ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError) as exc:
        raise DriftcheckError(f"kubeconfig {config_file}: {' '.join(str(exc).split())}") from None
    return configuration, chosen


def _contexts(paths: list[str]) -> tuple[list[str], str]:
    """Context names across the files, and the current one (the first file setting it wins, as in kubectl)."""
    names: list[str] = []
    current = ""
    for name in paths:
        path = Path(name).expanduser()
        if not path.is_file():
            continue
        document = yaml.safe_load(path.read_text()) or {}
        names += [c["name"] for c in document.get("contexts") or () if c["name"] not in names]
        current = current or str(document.get("current-context") or "")
    return names, current


def strip_credentials(url: str) -> str:
    """`https://user:pw@host:6443/path?token=x` -> `https://host:6443/path`: safe to put in a report."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST") and os.environ.get("KUBERNETES_SERVICE_PORT")
                and (SERVICE_ACCOUNT_DIR / "token").is_file())


def _json(data: bytes, path: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except ValueError:
        raise ApiError(0, "BadResponse", f"GET {path} did not return JSON") from None
    if not isinstance(document, dict):
        raise ApiError(0, "BadResponse", f"GET {path} did not return a JSON object")
    return document


def _status_text(status: int, data: bytes) -> tuple[str, str]:
    """Reason and message of a `Status` error body (or of whatever a proxy in between sent)."""
    try:
        body = json.loads(data)
        return str(body.get("reason") or status), " ".join(str(body.get("message", "")).split())
    except (ValueError, AttributeError):
        return str(status), " ".join(data[:200].decode("utf-8", "replace").split())


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None  # an HTTP date: rare from the API server; our own backoff applies


def _cause(exc: Exception) -> str:
    """The useful end of a urllib3 error: `Connection refused`, `connect timed out`, ..."""
    text = " ".join(str(exc).split())
    errno = re.search(r"\[Errno [^\]]*\] ([^)]*)", text)
    if errno:
        return errno.group(1)
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
            exc, urllib3.exceptions.NewConnectionError):
        return "connect timed out"
    return text.split(">: ", 1)[-1]  # without the "<urllib3.connection... object at 0x...>" prefix
