"""Reaching the Kubernetes API server: GET with retries, each request bounded as a whole.

Every request goes through the official `kubernetes` client (`ApiClient.param_serialize`/`call_api`), so
kubeconfig auth (tokens, client certificates, exec plugins) and TLS behave as kubectl users expect; the
credentials themselves are loaded by `driftcheck.live.kubeconfig`. Only GET is ever issued. Transient
failures (429, 5xx, timeouts, dropped connections) are retried with exponential backoff that honours
`Retry-After`; an unreachable server ends the run with one line, quickly.

`timeout` (--request-timeout) bounds each request from connecting to its last byte, not each socket read:
a server trickling one byte every few seconds cannot hold a request longer. The request runs in a daemon
thread the caller stops waiting for at the deadline, so neither a stuck socket nor SIGTERM has to wait
for it (an abandoned thread dies with the process).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from driftcheck import fastjson
from driftcheck.live.kubeconfig import load_configuration
from driftcheck.live.memory_credentials import MemoryCredentials, close_files, memory_configuration
from driftcheck.model import DriftcheckError
from driftcheck.scrub import scrub

T = TypeVar("T")

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
        return min(self.backoff * 2.0 ** (attempt - 1), self.max_backoff)


DEFAULT_RETRY = RetryPolicy()


class ApiError(Exception):
    """A request the API server answered with an error (or never answered, status 0), after retries."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}" if status else f"{reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


class Connection:
    """An authenticated, read-only line to one API server; counts every HTTP request it makes."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, timeout: float = 30.0,
                 retry: RetryPolicy = DEFAULT_RETRY, credentials: MemoryCredentials | None = None) -> None:
        self._files: list[int] = []  # memory files the TLS data of `credentials` is read from
        if credentials is not None:  # a cluster Secret's: its label stands for the context
            self.configuration, self._files = memory_configuration(credentials)
            self.context = credentials.label
        else:
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
        close_files(self._files)

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
                                          f"(context {self.context}): {scrub(_cause(exc))}") from None
                time.sleep(self.retry.delay(attempt))
                continue
            except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError, Overdue) as exc:
                if self._spent(attempt, started, self.retry.delay(attempt), budget):
                    timed_out = not isinstance(exc, urllib3.exceptions.ProtocolError)
                    cause = f"no answer within {timeout[1]:g}s" if timed_out else _cause(exc)
                    raise ApiError(0, "Timeout" if timed_out else "ConnectionLost",
                                   f"{cause} ({attempt} attempts)") from None
                time.sleep(self.retry.delay(attempt))
                continue
            except urllib3.exceptions.HTTPError as exc:  # a malformed server URL, an unknown scheme, ...
                raise DriftcheckError(f"cannot talk to the Kubernetes API server {self.server} "
                                      f"(context {self.context}): {scrub(_cause(exc))}") from None
            except ValueError:  # (after urllib3's own) a refused header value: never echo it, it is the token
                raise DriftcheckError(f"cannot send a request to the Kubernetes API server {self.server} "
                                      f"(context {self.context}): a header value (the credentials?) holds "
                                      "a character HTTP does not allow") from None
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
        """One request, answered in full within timeout[1] seconds (else `Overdue`)."""
        send = self._sender(path, query, timeout)

        try:
            return within(timeout[1], send)
        except ApiException as exc:  # the client reports TLS failures this way
            reason = re.sub(r"\s*\(_ssl\.c:\d+\)", "", " ".join(str(exc.reason).split()))
            raise DriftcheckError(f"cannot talk to the Kubernetes API server {self.server}: "
                                  f"{scrub(reason)}") from None


    def _sender(self, path: str, query: list[tuple[str, str | int]],
                timeout: tuple[float, float]) -> Callable[[], tuple[int, bytes, float | None]]:
        """The GET as the installed client builds it. kubernetes 37 (openapi-generator 7) splits it into
        param_serialize + call_api and returns every status; 36 and older (which boto3's dateutil pin
        keeps for the [s3] extra) take it in one call_api and raise ApiException for a non-2xx answer."""
        accept = {"Accept": "application/json"}
        if hasattr(self._client, "param_serialize"):
            method, url, headers, _, _ = self._client.param_serialize(
                "GET", path, query_params=query, header_params=accept, auth_settings=["BearerToken"])

            def send() -> tuple[int, bytes, float | None]:
                response = self._client.call_api(method, url, headers, _request_timeout=timeout)
                return response.status, response.read(), _retry_after(response.headers.get("Retry-After"))
            return send

        older: Any = self._client  # typed as 37's client; 36's call_api takes the whole request

        def send_older() -> tuple[int, bytes, float | None]:
            try:
                response = older.call_api(path, "GET", query_params=query, header_params=accept,
                                                 auth_settings=["BearerToken"], _preload_content=False,
                                                 _request_timeout=timeout)
            except ApiException as exc:
                if not exc.status:
                    raise  # no answer (TLS, connection): reported by the caller
                body = exc.body.encode() if isinstance(exc.body, str) else exc.body or b""
                return exc.status, body, _retry_after((exc.headers or {}).get("Retry-After"))
            return response.status, response.read(), _retry_after(response.headers.get("Retry-After"))
        return send_older


class Overdue(Exception):
    """A call that did not finish by its deadline (it may still be running, abandoned)."""


def within(seconds: float, call: Callable[[], T]) -> T:
    """call() in a daemon thread, waited for at most `seconds`: a trickling or stalled socket, or a
    SIGTERM arriving meanwhile, never makes the caller (or the interpreter's exit) wait for it."""
    outcome: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the waiting thread, which raises it
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=run, name="driftcheck-request", daemon=True).start()
    if not done.wait(seconds):
        raise Overdue(f"not finished within {seconds:g}s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def strip_credentials(url: str) -> str:
    """`https://user:pw@host:6443/path?token=x` -> `https://host:6443/path`: safe to put in a report."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _json(data: bytes, path: str) -> dict[str, Any]:
    try:
        document = fastjson.loads(data)
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
