"""Normalization: what the API server and controllers add that never counts as drift."""

from __future__ import annotations

import json
from typing import Any

from driftcheck.compare.pointer import mapping
from driftcheck.kube import BOOKKEEPING_ANNOTATIONS, BUILTIN_GROUPS, LAST_APPLIED, TRACKING_ID, TRACKING_LABEL

# Written by the API server on every object.
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds", "namespace")


def normalize(body: dict[str, Any], group: str, *, compare_status: bool = False,
              desired_labels: dict[str, Any] | None = None, tracking_label: str = TRACKING_LABEL,
              tracking_annotation: str = TRACKING_ID,
              more_annotations: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A deep copy of `body` without server-populated fields and bookkeeping annotations.

    `desired_labels`, given for the live side, keeps the tracking label when Git sets it itself:
    otherwise it is the GitOps tool's bookkeeping, present in last-applied but not in Git.
    `more_annotations` are further bookkeeping (ArgoCD's installation id, when argocd-cm is given).
    """
    keep_status = compare_status and group not in BUILTIN_GROUPS
    out = {k: _copy(v) for k, v in body.items()
           if k not in ("apiVersion", "kind", "metadata") and (k != "status" or keep_status)}
    meta = body.get("metadata")
    if isinstance(meta, dict):
        meta = out["metadata"] = {k: _copy(v) for k, v in meta.items() if k not in SERVER_METADATA}
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            dropped = BOOKKEEPING_ANNOTATIONS | more_annotations | {tracking_annotation}
            for name in dropped & annotations.keys():
                del annotations[name]
            if not annotations:
                del meta["annotations"]
        labels = meta.get("labels")
        if desired_labels is not None and isinstance(labels, dict) and tracking_label not in desired_labels:
            labels.pop(tracking_label, None)
    return out


def _copy(value: Any) -> Any:
    """A copy of plain JSON data (several times faster than copy.deepcopy, which keeps a memo)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def last_applied(body: dict[str, Any]) -> dict[str, Any] | None:
    """The configuration `kubectl apply` (and ArgoCD's client-side sync) recorded, or None."""
    text = mapping(body, "metadata", "annotations").get(LAST_APPLIED)
    if not isinstance(text, str):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
