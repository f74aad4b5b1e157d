"""The destination cluster as Helm's `.Capabilities` sees it, from discovery or from a snapshot's header.

ArgoCD renders every Helm chart with the destination cluster's server version and the API versions it
serves, so a chart that emits a ServiceMonitor only when `monitoring.coreos.com/v1` is served renders it
only there. driftcheck reads the same: `/version`, `/api` and `/apis` (the reader keeps the documents, so
the live read that follows asks for none of them again), or the `kubernetesVersion` and `apiVersions`
that `driftcheck snapshot` wrote. The list is `group/version` strings: the `group/version/Kind` strings
ArgoCD also passes would take one request per group-version before any app renders.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftcheck.live.connection import ApiError
from driftcheck.render.renderer import Capabilities

if TYPE_CHECKING:
    from driftcheck.live.cluster import ClusterReader


def read_capabilities(reader: ClusterReader) -> Capabilities | None:
    """The cluster's version and served group-versions; None (the renderer's defaults) when discovery
    cannot say."""
    version = str(reader.info.get("kubernetes_version") or "")
    try:
        core = reader.discovery_document("/api")
        groups = reader.discovery_document("/apis")
    except ApiError:
        return None
    return Capabilities(_known(version), served_api_versions(core, groups))


def served_api_versions(core: dict[str, Any], groups: dict[str, Any]) -> tuple[str, ...]:
    """Every `group/version` the two discovery documents list (core versions as `v1`), sorted."""
    found = {str(v) for v in core.get("versions") or () if isinstance(v, str) and v}
    for group in groups.get("groups") or ():
        if not isinstance(group, dict):
            continue
        for entry in group.get("versions") or ():
            if isinstance(entry, dict) and entry.get("groupVersion"):
                found.add(str(entry["groupVersion"]))
    return tuple(sorted(found))


def snapshot_capabilities(header: dict[str, Any] | None) -> Capabilities | None:
    """What a snapshot header recorded; None for kubectl output or a header that holds neither."""
    if header is None:
        return None
    version = _known(str(header.get("kubernetesVersion") or ""))
    listed = header.get("apiVersions")
    api_versions = tuple(str(v) for v in listed if isinstance(v, str)) if isinstance(listed, list) else ()
    if not version and not api_versions:
        return None
    return Capabilities(version, api_versions)


def capabilities_of_snapshot(path: str | os.PathLike[str]) -> Capabilities | None:
    """snapshot_capabilities of the first header found in a snapshot file or directory."""
    from driftcheck.live.snapshot import read_header

    return snapshot_capabilities(read_header(Path(path)))


def _known(version: str) -> str:
    return "" if version == "unknown" else version


class DestinationCapabilities:
    """One destination's capabilities, read on the first call only (the first app Helm renders), from its
    snapshot or through a reader that the live read then reuses (`reader`)."""

    def __init__(self, snapshot: Path | None, open_reader: Callable[[], ClusterReader],
                 progress: Callable[[str], None] = lambda _m: None) -> None:
        self._snapshot = snapshot
        self._open_reader = open_reader
        self._progress = progress
        self.reader: ClusterReader | None = None
        self._read = False
        self._capabilities: Capabilities | None = None

    def __call__(self) -> Capabilities | None:
        if not self._read:
            self._read = True
            if self._snapshot is not None:
                where = f"snapshot {self._snapshot}"
                self._capabilities = capabilities_of_snapshot(self._snapshot)
            else:
                self.reader = self._open_reader()
                where = str(self.reader.info.get("server"))
                self._capabilities = read_capabilities(self.reader)
            caps = self._capabilities
            self._progress(f"capabilities: Kubernetes {caps.kube_version or '(default)'}, "
                           f"{len(caps.api_versions)} API versions from {where}" if caps else
                           f"capabilities: unknown from {where}; Helm's defaults")
        return self._capabilities
