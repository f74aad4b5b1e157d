"""Reading live objects from a cluster: one paginated LIST per resource type and namespace scope.

Never a GET per object, never anything but GET. What cannot be read is said, not hidden: a 403 makes a
(kind, namespace) `unreadable`, a kind the cluster does not serve goes to `not_served`, and the run goes on.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from driftcheck.live.connection import DEFAULT_RETRY, ApiError, Connection, RetryPolicy
from driftcheck.live.discovery import ApiType, discover, served_types
from driftcheck.live.selector import parse_selector
from driftcheck.model import DriftcheckError, LiveState, Origin, Resource, ResourceKey

PAGE_SIZE = 500
# Up to this many namespaces, one LIST per type and namespace; above, one cluster-wide LIST per type,
# filtered here: discovery + Σ ceil(objects of a type / page) requests however many apps' namespaces.
NAMESPACE_LISTS_MAX = 2
WORKERS = 8  # LISTs in flight at once: wall time on a remote API server, mild for API Priority and Fairness


class ClusterReader:
    """Reads live state through the official client; see `driftcheck.live.connection` for credentials."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, timeout: float = 30.0,
                 retry: RetryPolicy = DEFAULT_RETRY, page_size: int = PAGE_SIZE,
                 workers: int = WORKERS) -> None:
        self._connection = Connection(kubeconfig, context, timeout, retry)
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
        found = discover(self._discovery_document, kinds)
        state.not_served = found.not_served
        state.cluster_scoped = found.cluster_scoped
        for (group, kind), reason in found.failed.items():
            state.unreadable[(group, kind, "")] = reason
        wide = namespaces is not None and len(namespaces) > NAMESPACE_LISTS_MAX
        jobs = [(found.types[gk], namespace) for gk in sorted(found.types)
                for namespace in (sorted(namespaces) if found.types[gk].namespaced and namespaces is not None
                                  and not wide else [None])]
        lists = self._list_all(jobs, selector)
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
        narrow = [(api_type, namespace) for api_type, _ in jobs if api_type.group_kind in refused
                  for namespace in sorted(namespaces or ())]
        for (api_type, namespace), listed in zip(narrow, self._list_all(narrow, selector), strict=True):
            self._record(state, api_type, namespace, listed)
        state.requests = self._connection.requests
        return state

    def _list_all(self, jobs: list[tuple[ApiType, str | None]],
                  selector: str | None) -> list[list[dict[str, Any]] | ApiError]:
        with ThreadPoolExecutor(max_workers=min(self._workers, len(jobs) or 1)) as pool:
            return list(pool.map(lambda job: self._list_or_error(*job, selector), jobs))

    def served_types(self) -> list[ApiType]:
        """Every listable type the cluster serves (preferred versions), e.g. to choose what to snapshot."""
        try:
            return served_types(self._discovery_document)
        except ApiError as exc:
            raise DriftcheckError(f"API discovery on {self._connection.server} failed: {exc}") from None

    def close(self) -> None:
        self._connection.close()

    def _discovery_document(self, path: str) -> dict[str, Any]:
        if path not in self._discovery:
            self._discovery[path] = self._connection.get(path)
        return self._discovery[path]

    def _list_or_error(self, api_type: ApiType, namespace: str | None,
                       selector: str | None) -> list[dict[str, Any]] | ApiError:
        try:
            return self._list(api_type, namespace, selector)
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

    def _list(self, api_type: ApiType, namespace: str | None, selector: str | None) -> list[dict[str, Any]]:
        """All pages of one LIST; a continue token that expired (410) restarts the list once."""
        path = api_type.list_path(namespace)
        items: list[dict[str, Any]] = []
        token, restarted = "", False
        while True:
            query: list[tuple[str, str | int]] = [("limit", self._page_size)]
            if selector:
                query.append(("labelSelector", selector))
            if token:
                query.append(("continue", token))
            try:
                page = self._connection.get(path, query)
            except ApiError as exc:
                if exc.status == 410 and token and not restarted:
                    items, token, restarted = [], "", True
                    continue
                raise
            items.extend(page.get("items") or ())
            previous, token = token, (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return items
            if token == previous:  # a server that hands back the same token would keep us here forever
                raise ApiError(0, "BadResponse", f"GET {path} returned the same continue token twice")
