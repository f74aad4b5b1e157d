"""`postBuild.substituteFrom` read from the run's cluster, as kustomize-controller reads it.

fluxcd/pkg `kustomize/kustomize_varsub.go` LoadVariables: each ConfigMap or Secret of substituteFrom, in
order, from the Kustomization's namespace on the controller's own cluster (never a `kubeConfig` remote);
later ones overwrite earlier ones, every value with its newlines removed (a Secret's `data` decoded);
`optional: true` tolerates only a missing object. The inline `substitute` then wins (postbuild.py).

driftcheck reads, never guesses: one LIST per kind and namespace for the whole run (the live reader
never GETs one object), at most MAX_NAMESPACES namespaces. What could not be read (a forbidden Secrets
LIST without deploy/components/read-secrets, a snapshot that did not capture it or redacted it) is named
in `Loaded.unreadable`, so the variables it may give stay unresolved with that reason. Secret values
stay in memory, in the build only: never in a message. `object_data` serves a HelmRelease's valuesFrom
from the same LISTs (helm-controller GETs them from the HelmRelease's namespace).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftcheck.kube import REDACTED
from driftcheck.model import DriftcheckError, LiveState
from driftcheck.model.apps import SubstitutedFrom

CONFIG_MAP = ("", "ConfigMap")
SECRET = ("", "Secret")
READ_SECRETS = "deploy/components/read-secrets"
MAX_NAMESPACES = 20

if TYPE_CHECKING:
    from driftcheck.commands.options import ClusterOptions
    from driftcheck.live.memory_credentials import MemoryCredentials

Reader = Callable[[tuple[str, str], str], LiveState]  # (group, kind), namespace -> what one LIST gives


class ClusterVariables:
    """The substituteFrom (and HelmRelease valuesFrom) objects of one run's cluster, each (kind,
    namespace) listed once, on demand."""

    def __init__(self, read: Reader, where: str, close: Callable[[], None] = lambda: None) -> None:
        self._read, self.where, self.close = read, where, close
        self._listed: dict[tuple[str, str], dict[str, dict[str, Any]] | str] = {}  # (kind, ns) -> bodies|why
        self.requests = 0

    def load(self, namespace: str, refs: tuple[tuple[str, str, bool], ...]) -> SubstitutedFrom:
        """The variables refs (kind, name, optional) give in namespace, what could not be read, and the
        failure Flux's build has when a required object does not exist."""
        values: dict[str, str] = {}
        unreadable: list[tuple[str, str]] = []
        failed = ""
        for kind, name, optional in refs:
            shown = f"{kind} {namespace}/{name}"
            if kind not in ("ConfigMap", "Secret"):
                continue  # the API admits only these two; Flux's switch ignores anything else
            found = self._objects(kind, namespace)
            if isinstance(found, str):
                unreadable.append((shown, found))
                continue
            body = found.get(name)
            if body is None:
                if not optional and not failed:
                    failed = (f"substitute from '{kind}/{name}' error: {kind.lower()}s \"{name}\" not "
                              f"found (namespace {namespace}, {self.where}): Flux's build of this "
                              "Kustomization fails")
                continue
            data = body.get("data")
            data = data if isinstance(data, dict) else {}
            if kind == "Secret" and REDACTED in data.values():
                unreadable.append((shown, f"its values are redacted in {self.where}"))
                continue
            for key, value in data.items():
                text = _secret_text(value) if kind == "Secret" else str(value)
                if text is None:
                    unreadable.append((shown, f"data key {key!r} is not base64"))
                    continue
                values[str(key)] = text.replace("\n", "")
        return SubstitutedFrom(values, tuple(unreadable), failed)

    def object_data(self, kind: str, namespace: str, name: str) -> dict[str, str] | str | None:
        """One ConfigMap's `data` or Secret's `data` decoded, as helm-controller GETs it for valuesFrom;
        None when the cluster does not hold it; a str saying why it could not be read (a forbidden
        Secrets LIST names READ_SECRETS; redacted values are unreadable, never empty)."""
        found = self._objects(kind, namespace) if kind in ("ConfigMap", "Secret") else \
            f"{kind} is not a kind valuesFrom reads"
        if isinstance(found, str):
            return found
        body = found.get(name)
        if body is None:
            return None
        data = body.get("data")
        data = data if isinstance(data, dict) else {}
        if kind == "ConfigMap":
            return {str(k): "" if v is None else str(v) for k, v in data.items()}
        if REDACTED in data.values():
            return f"its values are redacted in {self.where}"
        out = {}
        for key, value in data.items():
            text = _secret_text(value)
            if text is None:
                return f"data key {key!r} is not base64"
            out[str(key)] = text
        return out

    def _objects(self, kind: str, namespace: str) -> dict[str, dict[str, Any]] | str:
        """name -> body of kind in namespace, or why they could not be read."""
        slot = (kind, namespace)
        if slot not in self._listed:
            namespaces = {ns for _, ns in self._listed}
            if namespace not in namespaces and len(namespaces) >= MAX_NAMESPACES:
                return f"not read: substituteFrom objects are read from at most {MAX_NAMESPACES} namespaces"
            self._listed[slot] = self._list(kind, namespace)
        return self._listed[slot]

    def _list(self, kind: str, namespace: str) -> dict[str, dict[str, Any]] | str:
        group_kind = ("", kind)
        self.requests += 1
        try:
            state = self._read(group_kind, namespace)
        except DriftcheckError as e:  # a cluster that cannot be reached: the variables stay unresolved
            return f"not read from {self.where}: {e}"
        if group_kind in state.not_served:
            return f"{kind}s are not served by {self.where}"
        why = state.unreadable.get(("", kind, namespace)) or state.unreadable.get(("", kind, ""))
        if why:
            if kind == "Secret" and "forbidden" in why.lower():
                return f"forbidden (reading Secrets needs the opt-in RBAC component {READ_SECRETS})"
            return why
        return {r.key.name: r.body for r in state.resources
                if r.key.group_kind == group_kind and r.key.namespace == namespace}


def _secret_text(value: Any) -> str | None:
    """A Secret data value as Go's string(bytes) gives it (invalid UTF-8 shown as U+FFFD)."""
    try:
        return base64.b64decode(str(value), validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return None


def snapshot_variables(path: Path) -> ClusterVariables:
    """The substituteFrom objects a --live-snapshot holds."""
    from driftcheck.live.snapshot import read_snapshot

    return ClusterVariables(lambda kind, ns: read_snapshot(path, {kind}, {ns}, None), f"snapshot {path}")


def live_variables(kubeconfig: str | None, context: str | None, timeout: float,
                   credentials: MemoryCredentials | None = None) -> ClusterVariables:
    """The substituteFrom objects of a kubeconfig context, through one reader opened on first need."""
    from driftcheck.live.cluster import ClusterReader

    readers: list[ClusterReader] = []

    def read(kind: tuple[str, str], namespace: str) -> LiveState:
        if not readers:
            readers.append(ClusterReader(kubeconfig, context, timeout=timeout, credentials=credentials))
        return readers[0].read({kind}, {namespace}, None)

    def close() -> None:
        for reader in readers:
            reader.close()

    return ClusterVariables(read, f"context {context}" if context else "the current context", close)


def cluster_variables(cluster: ClusterOptions) -> ClusterVariables:
    """The run's cluster (its --live-snapshot, else its context) as where substituteFrom is read."""
    if cluster.live_snapshot is not None:
        return snapshot_variables(cluster.live_snapshot)
    return live_variables(str(cluster.kubeconfig) if cluster.kubeconfig else None, cluster.context,
                          cluster.request_timeout, cluster.credentials)
