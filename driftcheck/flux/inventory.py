"""`extra` objects of a Flux Kustomization split as Flux will treat them: stale or orphan.

A live object with the Kustomization's owner labels that Git no longer has is `extra`. When the cluster
holds the Kustomization with `status.inventory.entries` (ids `<ns>_<name>_<group>_<kind>`, cli-utils'
ObjMetadata, a `:` in an RBAC name written `__`), one in the inventory is *stale*: kustomize-controller
deletes it at its next successful apply (`reconcile` prune, `deleteObjects`), unless `spec.prune` is false
or the object carries `kustomize.toolkit.fluxcd.io/prune: disabled`, `reconcile: disabled` or
`ssa: Ignore` (the delete exclusions, as a label or annotation, any case). One not in the inventory is
an *orphan*: Flux lost track of it and will never touch it (kustomize-controller#1664).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from driftcheck.flux.objects import KUSTOMIZE_GROUP
from driftcheck.flux.policies import any_in_metadata
from driftcheck.model import ResourceKey

PRUNE_EXCLUSIONS = ((f"{KUSTOMIZE_GROUP}/prune", "disabled"), (f"{KUSTOMIZE_GROUP}/reconcile", "disabled"),
                    (f"{KUSTOMIZE_GROUP}/ssa", "Ignore"))
RBAC_NAMED = {("rbac.authorization.k8s.io", k) for k in ("Role", "ClusterRole", "RoleBinding",
                                                           "ClusterRoleBinding")}
ExtraKind = Literal["stale", "orphan", ""]


def object_id(key: ResourceKey) -> str:
    """The inventory id of an object, as cli-utils' ObjMetadata.String writes it."""
    name = key.name.replace(":", "__") if key.group_kind in RBAC_NAMED else key.name
    return f"{key.namespace}_{name}_{key.group}_{key.kind}"


def inventory_ids(kustomization: Mapping[str, Any] | None) -> set[str] | None:
    """The ids of a live Kustomization's status.inventory; None when it has no inventory."""
    status = kustomization.get("status") if isinstance(kustomization, Mapping) else None
    inventory = status.get("inventory") if isinstance(status, Mapping) else None
    entries = inventory.get("entries") if isinstance(inventory, Mapping) else None
    if not isinstance(entries, list):
        return None
    return {str(e["id"]) for e in entries if isinstance(e, Mapping) and isinstance(e.get("id"), str)}


def classify_extra(key: ResourceKey, body: Mapping[str, Any], app: str,
                   kustomization: Mapping[str, Any] | None) -> tuple[ExtraKind, str]:
    """("stale" | "orphan", why) for an owned live object Git no longer has; ("", why) without an
    inventory to tell (the Kustomization is not in the cluster, or has no status)."""
    ids = inventory_ids(kustomization)
    if ids is None:
        return "", f"tracked as part of app {app} (its owner labels) but no longer in Git"
    if object_id(key) not in ids:
        return "orphan", (f"orphan: has the owner labels of Kustomization {app} but is not in its "
                          "status.inventory, so Flux will never prune or update it")
    spec = kustomization.get("spec") if isinstance(kustomization, Mapping) else None
    if not (isinstance(spec, Mapping) and spec.get("prune") is True):
        return "stale", (f"stale: in Kustomization {app}'s status.inventory, gone from Git; not pruned "
                         "(spec.prune is not true), so it stays")
    for label, value in PRUNE_EXCLUSIONS:
        if any_in_metadata(body, label, value):
            return "stale", (f"stale: in Kustomization {app}'s status.inventory, gone from Git; not pruned "
                             f"({label}: {value})")
    return "stale", (f"stale: in Kustomization {app}'s status.inventory, gone from Git; Flux prunes it at "
                     "its next successful apply")
