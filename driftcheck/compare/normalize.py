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
    if group == "argoproj.io" and body.get("kind") == "Application":
        application(out)
    return out


# What ArgoCD writes on an Application that no Git file holds: the CLI/UI's refresh and hydrate requests,
# the notifications controller's record. status and operation are the controller's too.
_APPLICATION_ANNOTATIONS = ("argocd.argoproj.io/refresh", "argocd.argoproj.io/hydrate",
                            "notified.notifications.argoproj.io")
# The fields whose value makes a block non-zero (`IsZero` in ArgoCD's types.go); others do not count.
_ZERO_UNLESS = {"kustomize": ("namePrefix", "nameSuffix", "version", "namespace", "images", "replicas",
                              "commonLabels", "commonAnnotations", "patches", "components", "kubeVersion",
                              "apiVersions", "ignoreMissingComponents"),
                "helm": ("version", "releaseName", "valueFiles", "parameters", "fileParameters", "values",
                         "passCredentials", "ignoreMissingValueFiles", "skipCrds", "skipTests",
                         "skipSchemaValidation", "kubeVersion", "apiVersions", "namespace"),
                "directory": ("recurse", "disableExtensionFilter")}


def application(out: dict[str, Any]) -> None:
    """An Application as ArgoCD's controller persists it (`NormalizeApplicationSpec`, which the
    ApplicationSet controller also applies to both sides before it compares): project "" is `default`, a
    zero syncPolicy and zero helm/kustomize/directory blocks are dropped (a zero directory keeps only its
    include/exclude); status, operation and ArgoCD's own annotations are not compared."""
    out.pop("status", None)
    out.pop("operation", None)
    annotations = mapping(out, "metadata", "annotations")
    for name in [a for a in annotations if a.startswith(_APPLICATION_ANNOTATIONS)]:
        del annotations[name]
    if "annotations" in out.get("metadata", {}) and not annotations:
        del out["metadata"]["annotations"]
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("project"):
        spec["project"] = "default"
    policy = spec.get("syncPolicy")
    if isinstance(policy, dict) and policy.get("automated") is None and not policy.get("syncOptions") \
            and policy.get("retry") is None and policy.get("managedNamespaceMetadata") is None:
        del spec["syncPolicy"]
    sources = spec.get("sources")
    for source in (sources if isinstance(sources, list) and sources else [spec.get("source")]):
        if isinstance(source, dict):
            _normalize_source(source)


def _normalize_source(source: dict[str, Any]) -> None:
    for block, fields in _ZERO_UNLESS.items():
        value = source.get(block)
        if not isinstance(value, dict):
            continue
        jsonnet = mapping(value, "jsonnet")
        if any(value.get(f) for f in fields) or (block == "helm" and value.get("valuesObject") is not None) \
                or (block == "directory" and any(jsonnet.get(k) for k in ("extVars", "tlas", "libs"))):
            continue
        kept = {k: value[k] for k in ("include", "exclude") if block == "directory" and value.get(k)}
        if kept:
            source[block] = kept
        else:
            del source[block]


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
