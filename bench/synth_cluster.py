"""The live side of the synthetic repository: the same livify code as the demo, 20% drifted in assorted ways.

Returns the live objects and what was planted (resource -> expected status), so the benchmark also checks
that driftcheck found exactly that.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from driftcheck.model import ResourceKey
from testing.drift import set_field
from testing.livify import GITOPS_MANAGER, Cluster, kubectl_order, livify, livify_object

Body = dict[str, Any]
SYNCED_AT = datetime.fromisoformat("2026-01-20T09:05:00+09:00")
EDITED_AT = datetime.fromisoformat("2026-01-21T14:30:00+09:00")
DRIFT_RATIO = 0.20
MISSING_SHARE, EXTRA_SHARE = 0.15, 0.10  # of the drifted objects; the rest have a field changed
_CONTAINERS = {
    "Deployment": "/spec/template/spec/containers/0",
    "StatefulSet": "/spec/template/spec/containers/0",
    "Rollout": "/spec/template/spec/containers/0",
    "CronJob": "/spec/jobTemplate/spec/template/spec/containers/0",
}


def _edit(pointer: str, value: Any, manager: str = "kubectl-edit", **kw: Any) -> Callable[[Body], None]:
    return lambda obj: set_field(obj, pointer, value, manager=manager, moment=EDITED_AT, **kw)


def field_drifts(kind: str) -> list[Callable[[Body], None]]:
    """The hand changes people make to an object of this kind (each is one drifted field)."""
    drifts = [
        _edit("/metadata/annotations/team.example.com~1owner", "someone-else", "kubectl-annotate"),
        _edit("/metadata/labels/tier", "frontend", "kubectl-label"),
        _edit("/metadata/annotations/team.example.com~1legacy", "true", GITOPS_MANAGER, operation="Apply"),
    ]
    if kind in _CONTAINERS:
        base = _CONTAINERS[kind]
        drifts += [
            _edit(f"{base}/image", "ghcr.io/example/hotfix:9.9.9", "kubectl-set"),
            _edit(f"{base}/env/0/value", "debug", "kubectl-set"),
            _edit(f"{base}/resources/limits/memory", "1Gi"),
        ]
    if kind in ("StatefulSet", "Rollout"):
        drifts.append(_edit("/spec/replicas", 5, "kubectl", subresource="scale"))
    drifts += {
        "ConfigMap": [_edit("/data/log_level", "debug")],
        "Secret": [_edit("/data/password", "aGFuZC1lZGl0ZWQ=")],
        "Service": [_edit("/spec/ports/0/targetPort", 8081)],
        "HorizontalPodAutoscaler": [_edit("/spec/maxReplicas", 20)],
        "PodDisruptionBudget": [_edit("/spec/minAvailable", 0)],
        "Ingress": [_edit("/spec/rules/0/host", "hijacked.example.com")],
        "DestinationRule": [_edit("/spec/trafficPolicy/loadBalancer/simple", "LEAST_REQUEST")],
        "VirtualService": [_edit("/spec/http/0/timeout", "60s")],
        "CronJob": [_edit("/spec/schedule", "*/5 * * * *")],
    }.get(kind, [])
    return drifts


def build_cluster(apps: dict[str, list[Body]], seed: int = 8) -> tuple[list[Body], dict[ResourceKey, str]]:
    """Live objects for `apps` (ReplicaSets left out: a snapshot of the kinds Git uses has none) + planted."""
    rng = random.Random(seed)
    cluster = Cluster(seed=f"bench-{seed}")
    live: dict[ResourceKey, Body] = {}
    for app, bodies in apps.items():
        for obj in livify(bodies, app=app, namespace=app, applied_at=SYNCED_AT, cluster=cluster):
            if obj["kind"] != "ReplicaSet":
                live[ResourceKey.of(obj)] = obj
    keys = sorted(live)
    drifted = rng.sample(keys, round(len(keys) * DRIFT_RATIO))
    planted: dict[ResourceKey, str] = {}
    n_missing = round(len(drifted) * MISSING_SHARE)
    n_extra = round(len(drifted) * EXTRA_SHARE)
    for key in drifted[:n_missing]:
        del live[key]
        planted[key] = "missing"
    for i, key in enumerate(drifted[n_missing + n_extra :]):
        choices = field_drifts(key.kind)
        choices[i % len(choices)](live[key])
        planted[key] = "drifted"
    for i, key in enumerate(drifted[n_missing : n_missing + n_extra]):  # stale objects Git no longer has
        orphan = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"orphan-{i}", "labels": {"app": "orphan"}},
            "data": {"from": key.name},
        }
        obj = kubectl_order(
            livify_object(
                cluster,
                orphan,
                app=key.namespace,
                namespace=key.namespace,
                applied_at=SYNCED_AT - timedelta(days=30),
            )
        )
        live[ResourceKey.of(obj)] = obj
        planted[ResourceKey.of(obj)] = "extra"
    return list(live.values()), planted
