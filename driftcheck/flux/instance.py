"""A flux-operator `FluxInstance` (`fluxcd.controlplane.io/v1`) in Git as the root of a Flux graph.

flux-operator makes the cluster's sync from `spec.sync` (`internal/builder/templates.go`, `syncTmpl`): a
source of `sync.kind` and a Kustomization, both named `sync.name` or else the instance's namespace, in
that namespace. A GitRepository gets `ref.name: <sync.ref>` (a full ref such as `refs/heads/main`), an
OCIRepository `ref.tag`, a Bucket `bucketName`; the Kustomization has `path: <sync.path>`, `prune: true`
and that source. driftcheck builds the same two objects from the instance found in `--flux PATH`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftcheck.fetch.tree import Tree
from driftcheck.flux.objects import (
    KUSTOMIZE_GROUP,
    SOURCE_GROUP,
    FluxObjectError,
    Kustomization,
    kustomization,
    mapping_of,
)
from driftcheck.model import DriftcheckError
from driftcheck.render.yaml import load_manifests

OPERATOR_GROUP = "fluxcd.controlplane.io"
DEFAULT_NAMESPACE = "flux-system"
SYNC_KINDS = ("GitRepository", "OCIRepository", "Bucket")


@dataclass
class Synced:
    """The Kustomization and source flux-operator makes from one FluxInstance, and where it is."""

    kustomization: Kustomization
    file: str
    line: int
    sources: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)


def find_instance(tree: Tree, path: str) -> Synced | None:
    """The sync of the first FluxInstance with spec.sync in PATH's own YAML files (not sub-directories)."""
    for file in tree.list_files(path):
        if not file.endswith((".yaml", ".yml")):
            continue
        docs, _ = load_manifests(tree.read(file), file)
        for body, line in docs:
            api = str(body.get("apiVersion") or "")
            if body.get("kind") == "FluxInstance" and api.rpartition("/")[0] == OPERATOR_GROUP:
                sync = mapping_of(mapping_of(body.get("spec")).get("sync"))
                if sync:
                    return _synced(body, sync, file, line)
    return None


def _synced(body: dict[str, Any], sync: dict[str, Any], file: str, line: int) -> Synced:
    meta = mapping_of(body.get("metadata"))
    namespace = str(meta.get("namespace") or DEFAULT_NAMESPACE)
    where = f"{file}:{line}"
    for key in ("kind", "url", "ref", "path"):
        if not isinstance(sync.get(key), str) or not sync[key]:
            raise DriftcheckError(f"{where}: FluxInstance {namespace}/{meta.get('name')}: spec.sync.{key} is "
                                  "required")
    kind = sync["kind"]
    if kind not in SYNC_KINDS:
        raise DriftcheckError(f"{where}: FluxInstance spec.sync.kind {kind!r} is not one of "
                              f"{', '.join(SYNC_KINDS)}")
    name = str(sync.get("name") or namespace)
    spec: dict[str, Any] = {"interval": sync.get("interval") or "1m0s"}
    if kind == "GitRepository":
        spec |= {"ref": {"name": sync["ref"]}, "url": sync["url"]}
    elif kind == "OCIRepository":
        spec |= {"ref": {"tag": sync["ref"]}, "url": sync["url"]}
    else:
        spec |= {"bucketName": sync["ref"], "endpoint": sync["url"]}
    if sync.get("pullSecret"):
        spec["secretRef"] = {"name": sync["pullSecret"]}
    if sync.get("provider"):
        spec["provider"] = sync["provider"]
    source = {"apiVersion": f"{SOURCE_GROUP}/v1", "kind": kind,
              "metadata": {"name": name, "namespace": namespace}, "spec": spec}
    root = {"apiVersion": f"{KUSTOMIZE_GROUP}/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"interval": "10m0s", "path": sync["path"], "prune": True,
                     "sourceRef": {"kind": kind, "name": name}}}
    try:
        made = kustomization(root, namespace)
    except FluxObjectError as e:
        raise DriftcheckError(f"{where}: {e}") from None
    return Synced(made, file, line, [(kind, source, where)])

