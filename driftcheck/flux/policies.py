"""The per-object annotations by which Flux leaves an object alone, as comparison must honour them.

kustomize-controller (fluxcd/pkg `ssa/manager_apply.go`, `ssa/utils/meta.go` AnyInMetadata) skips an object
when the desired *or* the live one carries `kustomize.toolkit.fluxcd.io/reconcile: disabled` or
`kustomize.toolkit.fluxcd.io/ssa: Ignore`, and one whose desired copy carries `ssa: IfNotPresent` once it
exists. Each key is read as a label or an annotation, its value case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from driftcheck.flux.objects import KUSTOMIZE_GROUP

RECONCILE = f"{KUSTOMIZE_GROUP}/reconcile"
SSA = f"{KUSTOMIZE_GROUP}/ssa"
Policy = tuple[Literal["skip", "presence"], str]


def any_in_metadata(body: Mapping[str, Any] | None, key: str, value: str) -> bool:
    """Whether body's labels or annotations set key to value (case-insensitive value)."""
    meta = body.get("metadata") if isinstance(body, Mapping) else None
    if not isinstance(meta, Mapping):
        return False
    for part in ("labels", "annotations"):
        found = meta.get(part)
        if isinstance(found, Mapping) and str(found.get(key, "")).lower() == value.lower():
            return True
    return False


def policy(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> Policy | None:
    """("skip", why) for an object Flux does not reconcile, ("presence", why) for one it only creates,
    else None (compared as usual)."""
    for key, value in ((RECONCILE, "disabled"), (SSA, "Ignore")):
        for side, body in (("Git", desired), ("the live object", live)):
            if any_in_metadata(body, key, value):
                return "skip", (f"not compared: {side} sets {key}: {value} (Flux neither applies nor "
                                 "corrects it)")
    if any_in_metadata(desired, SSA, "IfNotPresent"):
        return "presence", (f"only presence is checked: Git sets {SSA}: IfNotPresent (Flux creates it, "
                            "never updates it)")
    return None
