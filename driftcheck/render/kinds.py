"""Keying desired objects before any cluster is asked: well-known cluster-scoped kinds lose the namespace.

The kinds come from `kube.CLUSTER_SCOPED_KINDS`; the audit re-keys other kinds (CRDs) once discovery
or a snapshot says they are cluster-scoped.
"""

from __future__ import annotations

from typing import Any

from driftcheck import kube
from driftcheck.model import ResourceKey, split_api_version


def key_of(body: dict[str, Any], default_namespace: str) -> ResourceKey:
    """The object's key: its own namespace, else the app's, except for cluster-scoped kinds ("")."""
    group, _ = split_api_version(str(body.get("apiVersion", "")))
    if (group, str(body.get("kind", ""))) in kube.CLUSTER_SCOPED_KINDS:
        key = ResourceKey.of(body)
        return ResourceKey(key.group, key.kind, "", key.name)
    return ResourceKey.of(body, default_namespace=default_namespace)
