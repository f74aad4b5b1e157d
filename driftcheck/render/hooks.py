"""Which rendered objects are sync hooks, as ArgoCD classifies them, and so are never compared.

ArgoCD renders hooks (`helm template` prints them) and then leaves them out of the comparison: an object
with `argocd.argoproj.io/hook` (any value but exactly `Skip`), else one with `helm.sh/hook` (any value
but `crd-install`, Helm 2's marker for CRDs, which are ordinary objects), and PreDelete/PostDelete under
either annotation (gitops-engine `hook.IsHook`, argo-cd `controller/hook.go` `isHook`). An object whose
only hook type is `Skip` is not a hook but is neither applied nor compared (`hook.Skip`). A hook whose
annotation names no type ArgoCD runs (Helm's `test`) is never applied at all (`ignore.Ignore`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftcheck.model import Origin

ARGO_HOOK = "argocd.argoproj.io/hook"
HELM_HOOK = "helm.sh/hook"
_ARGO_TYPES = ("PreSync", "Sync", "PostSync", "SyncFail", "Skip")  # gitops-engine common.NewHookType
_HELM_TYPES = {"pre-install": "PreSync", "pre-upgrade": "PreSync",  # gitops-engine hook/helm/type.go
               "post-install": "PostSync", "post-upgrade": "PostSync"}
_DELETE_TYPES = {"PreDelete": "pre-delete", "PostDelete": "post-delete"}  # argo-cd controller/hook.go
_HELM_TEST_EVENTS = ("test", "test-success")  # Helm's test hook events (test-success: Helm 2's name)


@dataclass(frozen=True)
class RenderedHook:
    """A rendered hook, listed in the report instead of being compared."""

    resource: str  # "Job/db-migrate"
    types: str  # "PreSync", "PostSync,PreDelete", "Skip", "none (helm.sh/hook: test)"
    origin: Origin


def _csv(annotations: dict[str, Any], key: str) -> list[str]:
    """An annotation's comma-separated values, trimmed, empty ones and repeats dropped (GetAnnotationCSVs)."""
    out: list[str] = []
    for item in str(annotations.get(key) or "").split(","):
        if item.strip() and item.strip() not in out:
            out.append(item.strip())
    return out


def _annotations(body: dict[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def hook_of(body: dict[str, Any]) -> str | None:
    """None when ArgoCD compares the object; else the hook types ArgoCD gives it, as the report shows
    them (never empty: a hook with no type ArgoCD runs says so)."""
    annotations = _annotations(body)
    if ARGO_HOOK not in annotations and HELM_HOOK not in annotations:
        return None  # nearly every object: no hook annotation at all
    argo = [t for t in _csv(annotations, ARGO_HOOK) if t in _ARGO_TYPES]
    helm = _csv(annotations, HELM_HOOK)
    deletes = [kind for kind, helm_name in _DELETE_TYPES.items()
               if kind in _csv(annotations, ARGO_HOOK) or helm_name in helm]
    if ARGO_HOOK in annotations:
        hook = argo != ["Skip"]
    else:
        hook = HELM_HOOK in annotations and annotations[HELM_HOOK] != "crd-install"
    if not hook and not deletes:
        return "Skip" if argo == ["Skip"] else None
    # Argo's types when it names any, else Helm's mapped ones ("we ignore Helm hooks if we have Argo hook")
    types = argo or list(dict.fromkeys(_HELM_TYPES[h] for h in helm if h in _HELM_TYPES))
    types += [d for d in deletes if d not in types]
    if types:
        return ",".join(types)
    shown = ARGO_HOOK if ARGO_HOOK in annotations else HELM_HOOK
    return f"none ({shown}: {str(annotations.get(shown) or '')[:80]})"


def is_helm_test(body: dict[str, Any]) -> bool:
    """A Helm test hook: what `helm template --skip-tests` leaves out."""
    return any(e.lower() in _HELM_TEST_EVENTS for e in _csv(_annotations(body), HELM_HOOK))


def hook_name(body: dict[str, Any]) -> str:
    """Kind/name as the report lists a hook; a generateName hook shows its prefix."""
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    name = meta.get("name") or (f"{meta['generateName']}*" if meta.get("generateName") else "?")
    return f"{body.get('kind') or '?'}/{str(name)[:253]}"
