"""Reading live objects from a cluster: one paginated LIST per resource type and namespace scope.

Never a GET per object, never anything but GET. What cannot be read is said, not hidden: a 403 makes a
(kind, namespace) `unreadable`, a kind the cluster does not serve goes to `not_served`, and the run goes on.
A server is not trusted to answer what was asked: a namespace Kubernetes could never hold is not sent, an
answer whose List kind, apiVersion or namespace differs from the request makes that type `unreadable`
(never re-labelled), and every LIST is bounded in pages, tokens and time (see `deadlines`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from driftcheck.kube import invalid_namespace
from driftcheck.live.connection import DEFAULT_RETRY, ApiError, Connection, RetryPolicy
from driftcheck.live.discovery import ApiType, discover, served_types
from driftcheck.live.memory_credentials import MemoryCredentials
from driftcheck.live.selector import parse_selector
from driftcheck.model import DriftcheckError, LiveState, Origin, Resource, ResourceKey

PAGE_SIZE = 500
# Up to this many namespaces, one LIST per type and namespace; above, one cluster-wide LIST per type,
# filtered here: discovery + Σ ceil(objects of a type / page) requests however many apps' namespaces.
NAMESPACE_LISTS_MAX = 2
WORKERS = 8  # LISTs in flight at once: wall time on a remote API server, mild for API Priority and Fairness
MAX_PAGES = 10_000  # pages of one LIST: 5 million objects at 500 a page; a server paging for ever stops here
# With --request-timeout T: each request within T (connect to last byte), each LIST (pages and retries)
# within LIST_DEADLINE * T, the whole live read within READ_DEADLINE * T (120 s and 300 s by default).
LIST_DEADLINE = 4
READ_DEADLINE = 10

J = TypeVar("J")
R = TypeVar("R")


class ClusterReader:
    """Reads live state through the official client; see `driftcheck.live.connection` for credentials
    (a kubeconfig context, or `credentials` held in memory: `live.memory_credentials`)."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, timeout: float = 30.0,
                 retry: RetryPolicy = DEFAULT_RETRY, page_size: int = PAGE_SIZE,
                 workers: int = WORKERS, credentials: MemoryCredentials | None = None) -> None:
        self._connection = Connection(kubeconfig, context, timeout, retry, credentials)
        self._page_size = page_size
        self._workers = max(1, workers)
        self._version: str | None = None
        self._discovery: dict[str, dict[str, Any]] = {}  # discovery documents, read once per reader

    @property
    def info(self) -> dict[str, Any]:
        """context, server (credentials stripped), kubernetes_version; the first use contacts the server."""
        if self._version is None:
            try:
                version = self._connection.get("/version", budget=self._connection.retry.first_contact)
                self._version = str(version.get("gitVersion", ""))
            except ApiError as exc:
                if exc.status not in (403, 404):  # a server that hides its version can still be read
                    raise DriftcheckError(f"the Kubernetes API server {self._connection.server} (context "
                                          f"{self._connection.context}) fails: GET /version: {exc}") from None
                self._version = "unknown"
        return {"context": self._connection.context, "server": self._connection.server,
                "kubernetes_version": self._version}

    def read(self, kinds: set[tuple[str, str]], namespaces: set[str] | None,
             selector: str | None = None) -> LiveState:
        """Objects of `kinds` (group, kind) in `namespaces` (None = all), optionally label-selected."""
        parse_selector(selector or "")  # a typo is one clear line, not a 400 on every list
        state = LiveState(info={**self.info, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                "scope": {"kinds": set(kinds), "selector": selector,
                                          "namespaces": set(namespaces) if namespaces is not None else None}})
        deadline = time.monotonic() + READ_DEADLINE * self._connection.timeout[1]
        found = discover(self.discovery_document, kinds)
        state.not_served = found.not_served
        state.cluster_scoped = found.cluster_scoped
        for (group, kind), reason in found.failed.items():
            state.unreadable[(group, kind, "")] = reason
        if namespaces is not None:  # refused, never dropped: an empty set still reads nothing, not everything
            refused_ns = {ns: why for ns in namespaces if (why := invalid_namespace(ns))}
            for (group, kind), api_type in found.types.items():
                for ns, why in refused_ns.items():
                    if api_type.namespaced:
                        state.unreadable[(group, kind, ns)] = f"namespace {ns!r} not read: it {why}"
            namespaces = set(namespaces) - set(refused_ns)
        wide = namespaces is not None and len(namespaces) > NAMESPACE_LISTS_MAX
        jobs = [(found.types[gk], namespace) for gk in sorted(found.types)
                for namespace in (sorted(namespaces) if found.types[gk].namespaced and namespaces is not None
                                  and not wide else [None])]
        lists = self._list_all(jobs, selector, deadline)
        refused = {api_type.group_kind for (api_type, _), listed in zip(jobs, lists, strict=True)
                   if wide and api_type.namespaced and isinstance(listed, ApiError) and listed.status == 403}
        for (api_type, namespace), listed in zip(jobs, lists, strict=True):  # merged in a stable order
            if api_type.group_kind in refused:
                continue
            if wide and api_type.namespaced and not isinstance(listed, ApiError):
                listed = [item for item in listed
                          if (item.get("metadata") or {}).get("namespace") in (namespaces or ())]
            self._record(state, api_type, namespace, listed)
        # RBAC that grants some namespaces only refuses the cluster-wide list: read those one by one
        narrow: list[tuple[ApiType, str | None]] = [
            (api_type, namespace) for api_type, _ in jobs if api_type.group_kind in refused
            for namespace in sorted(namespaces or ())]
        for (api_type, namespace), listed in zip(narrow, self._list_all(narrow, selector, deadline),
                                                  strict=True):
            self._record(state, api_type, namespace, listed)
        state.requests = self._connection.requests
        return state

    def _list_all(self, jobs: list[tuple[ApiType, str | None]], selector: str | None,
                  deadline: float) -> list[list[dict[str, Any]] | ApiError]:
        return run_all(lambda job: self._list_or_error(*job, selector, deadline), jobs, self._workers)

    def served_types(self) -> list[ApiType]:
        """Every listable type the cluster serves (preferred versions), e.g. to choose what to snapshot."""
        try:
            return served_types(self.discovery_document)
        except ApiError as exc:
            raise DriftcheckError(f"API discovery on {self._connection.server} failed: {exc}") from None

    def close(self) -> None:
        self._connection.close()

    def discovery_document(self, path: str) -> dict[str, Any]:
        """One discovery document (`/apis`, `/api/v1`), read once per reader however often asked."""
        if path not in self._discovery:
            self._discovery[path] = self._connection.get(path)
        return self._discovery[path]

    def _list_or_error(self, api_type: ApiType, namespace: str | None, selector: str | None,
                       deadline: float) -> list[dict[str, Any]] | ApiError:
        try:
            return self._list(api_type, namespace, selector, deadline)
        except ApiError as exc:
            return exc

    @staticmethod
    def _record(state: LiveState, api_type: ApiType, namespace: str | None,
                listed: list[dict[str, Any]] | ApiError) -> None:
        """Put one type's objects in one scope into `state`, or why they could not be read."""
        if isinstance(listed, ApiError):
            if listed.status == 404:  # the type vanished between discovery and the list
                state.not_served.add(api_type.group_kind)
            else:
                where = (namespace if namespace else "all namespaces" if api_type.namespaced
                         else "the cluster scope")
                state.unreadable[(*api_type.group_kind, namespace or "")] = (
                    f"forbidden: list {api_type.plural} in {where}" if listed.status == 403
                    else f"cannot list {api_type.plural} in {where}: {listed}")
            return
        for item in listed:
            body = {"apiVersion": api_type.api_version, "kind": api_type.kind, **item}
            key = ResourceKey.of(body)
            state.resources.append(Resource(key, api_type.api_version, body, Origin("cluster")))

    def _list(self, api_type: ApiType, namespace: str | None, selector: str | None,
              read_deadline: float) -> list[dict[str, Any]]:
        """All pages of one LIST; a continue token that expired (410) restarts the list once. Bounded: no
        token may come back, at most MAX_PAGES pages, within the LIST's and the whole read's deadline."""
        path = api_type.list_path(namespace)
        request_time = self._connection.timeout[1]
        deadline = min(time.monotonic() + LIST_DEADLINE * request_time, read_deadline)
        what, factor = ("the live read", READ_DEADLINE) if deadline == read_deadline else ("the list",
                                                                                        LIST_DEADLINE)
        items: list[dict[str, Any]] = []
        token, restarted, seen = "", False, set[str]()
        for _ in range(MAX_PAGES):
            left = deadline - time.monotonic()
            if left <= 0:
                raise ApiError(0, "Timeout", f"GET {path}: {what} did not finish within {factor} × "
                               f"--request-timeout ({factor * request_time:g}s)")
            query: list[tuple[str, str | int]] = [("limit", self._page_size)]
            if selector:
                query.append(("labelSelector", selector))
            if token:
                query.append(("continue", token))
            try:
                page = self._connection.get(path, query, budget=left)
            except ApiError as exc:
                if exc.status == 410 and token and not restarted:
                    items, token, restarted, seen = [], "", True, set[str]()
                    continue
                raise
            items.extend(checked_items(page, api_type, namespace, path))
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return items
            if token in seen:  # A, B, A, ...: a server handing back any earlier token would loop for ever
                raise ApiError(0, "BadResponse", f"GET {path} returned a continue token it had already given")
            seen.add(token)
        raise ApiError(0, "BadResponse", f"GET {path} was still paging after {MAX_PAGES} pages")


def checked_items(page: dict[str, Any], api_type: ApiType, namespace: str | None,
                  path: str) -> list[dict[str, Any]]:
    """The page's items, if the answer is the List that was asked for (`kind: <Kind>List`, its apiVersion,
    items of that kind and, for a namespaced LIST, of that namespace); else the type cannot be read."""
    expected = (f"{api_type.kind}List", api_type.api_version)
    if (page.get("kind"), page.get("apiVersion")) != expected:
        raise ApiError(0, "BadResponse", f"GET {path} answered kind {page.get('kind')!r} apiVersion "
                       f"{page.get('apiVersion')!r}, not {expected[0]} {expected[1]}")
    items = page.get("items") or []
    if not isinstance(items, list):
        raise ApiError(0, "BadResponse", f"GET {path} answered items that are not a list")
    for item in items:
        if not isinstance(item, dict):
            raise ApiError(0, "BadResponse", f"GET {path} answered an item that is not an object")
        if item.get("kind", api_type.kind) != api_type.kind or item.get(
                "apiVersion", api_type.api_version) != api_type.api_version:
            raise ApiError(0, "BadResponse", f"GET {path} answered an item of kind {item.get('kind')!r} "
                           f"apiVersion {item.get('apiVersion')!r}, not {api_type.kind} "
                           f"{api_type.api_version}")
        if namespace and api_type.namespaced and (item.get("metadata") or {}).get("namespace") != namespace:
            raise ApiError(0, "BadResponse", f"GET {path} answered an object of another namespace")
    return items


def run_all(call: Callable[[J], R], jobs: list[J], workers: int) -> list[R]:
    """call(job) for every job on up to `workers` daemon threads, results in job order. The first
    exception is raised as soon as it happens. A SIGTERM while waiting unwinds at once: the threads are
    daemons (no exit waits for one stuck in a request) and take no new job once the caller has gone."""
    outcomes: dict[int, tuple[bool, Any]] = {}
    changed = threading.Condition()
    pending = iter(range(len(jobs)))
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            with changed:
                index = next(pending, None)
            if index is None:
                return
            try:
                outcome: tuple[bool, Any] = (True, call(jobs[index]))
            except BaseException as exc:  # handed to the caller, which raises it
                outcome = (False, exc)
            with changed:
                outcomes[index] = outcome
                changed.notify_all()

    for _ in range(min(max(1, workers), len(jobs))):
        threading.Thread(target=work, name="driftcheck-list", daemon=True).start()
    try:
        with changed:
            while len(outcomes) < len(jobs):
                failed = next((v for ok, v in outcomes.values() if not ok), None)
                if failed is not None:
                    raise failed
                changed.wait()
            failed = next((v for ok, v in outcomes.values() if not ok), None)
            if failed is not None:
                raise failed
    finally:
        stop.set()
    return [outcomes[i][1] for i in range(len(jobs))]
