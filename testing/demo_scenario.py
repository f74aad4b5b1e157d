"""The demo cluster: the demo repository's objects as ArgoCD left them, plus the drift people added by hand.

Planted, and nothing else: `kubectl set image` on Deployment api, a `kubectl annotate` on Service web
with hostile HTML in both values, PodDisruptionBudget api deleted, ConfigMap web-nginx-legacy still
live (and tracked) after Git dropped it, and ConfigMap hotfix-notes created by hand in the namespace.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import git

from driftcheck.apps import path_app
from driftcheck.demo.repo import DEMO_APP, DEMO_APP_PATH, DEMO_NAMESPACE
from driftcheck.fetch.tree import CommitTree
from driftcheck.live.snapshot import write_snapshot
from driftcheck.model import DriftcheckError, LiveState, Origin, Resource, ResourceKey
from driftcheck.render import render_app
from testing.drift import set_field
from testing.livify import Cluster, kubectl_order, livify, livify_object, owned_replicaset

HOSTILE_OWNER = "<script>document.title='pwned'</script>"
HOSTILE_RUNBOOK = '"><img src=x onerror=alert(1)>'
HOTFIX_IMAGE = "ghcr.io/example/shop-api:1.4.3-hotfix"
SET_IMAGE_AT = datetime.fromisoformat("2026-01-20T08:47:12+09:00")
ANNOTATE_AT = datetime.fromisoformat("2026-01-20T10:02:33+09:00")
SNAPSHOT_AT = datetime.fromisoformat("2026-01-21T03:00:00+09:00")

MISSING = ResourceKey("policy", "PodDisruptionBudget", DEMO_NAMESPACE, "api")
EXTRA = ResourceKey("", "ConfigMap", DEMO_NAMESPACE, "web-nginx-legacy")
UNMANAGED = ResourceKey("", "ConfigMap", DEMO_NAMESPACE, "hotfix-notes")
DRIFTED = {  # resource -> the JSON pointers changed by hand
    ResourceKey("apps", "Deployment", DEMO_NAMESPACE, "api"): ("/spec/template/spec/containers/0/image",),
    ResourceKey("", "Service", DEMO_NAMESPACE, "web"): ("/metadata/annotations/shop.example.com~1owner",
                                                         "/metadata/annotations/shop.example.com~1runbook")}
KUBECTL_APPLIED = {ResourceKey("", "Secret", DEMO_NAMESPACE, "api-credentials"), EXTRA}


def _render(repo: git.Repo, commit: git.Commit) -> list[dict[str, Any]]:
    rendered = render_app(CommitTree(repo, commit), path_app(DEMO_APP, DEMO_APP_PATH, DEMO_NAMESPACE))
    if rendered.errors:
        raise DriftcheckError(f"demo repository does not render: {rendered.errors[0]}")
    return [r.body for r in rendered.resources]


def demo_live_objects(repo_path: Path) -> list[dict[str, Any]]:
    """The demo cluster's objects, as `kubectl get -o yaml` shows them."""
    repo = git.Repo(repo_path)
    head = repo.head.commit
    root = next(repo.iter_commits(head, max_parents=0))
    created = root.committed_datetime + timedelta(minutes=3)
    synced = head.committed_datetime + timedelta(minutes=2)
    cluster = Cluster()
    legacy = [b for b in _render(repo, root) if ResourceKey.of(b, DEMO_NAMESPACE) == EXTRA]
    desired = [b for b in _render(repo, head) if ResourceKey.of(b, DEMO_NAMESPACE) != MISSING]
    live = livify(desired + legacy, app=DEMO_APP, namespace=DEMO_NAMESPACE, applied_at=synced,
                  created_at=created, kubectl_applied=KUBECTL_APPLIED, cluster=cluster)
    by_key = {ResourceKey.of(obj): obj for obj in live}

    api = by_key[ResourceKey("apps", "Deployment", DEMO_NAMESPACE, "api")]
    set_field(api, "/spec/template/spec/containers/0/image", HOTFIX_IMAGE, manager="kubectl-set",
              moment=SET_IMAGE_AT)
    api["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "2"
    api["status"]["observedGeneration"] = api["metadata"]["generation"]
    for old in live:
        owner = old["metadata"].get("ownerReferences", [{}])[0].get("uid")
        if old["kind"] != "ReplicaSet" or owner != api["metadata"]["uid"]:
            continue
        old["spec"]["replicas"] = old["status"]["replicas"] = 0
        for name in ("availableReplicas", "fullyLabeledReplicas", "readyReplicas"):
            old["status"].pop(name, None)
    live.append(kubectl_order(owned_replicaset(cluster, api, SET_IMAGE_AT + timedelta(seconds=1))))

    web = by_key[ResourceKey("", "Service", DEMO_NAMESPACE, "web")]
    for pointer, value in zip(DRIFTED[ResourceKey.of(web)], (HOSTILE_OWNER, HOSTILE_RUNBOOK), strict=True):
        set_field(web, pointer, value, manager="kubectl-annotate", moment=ANNOTATE_AT)

    notes = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": UNMANAGED.name},
             "data": {"notes": f"INC-2041: api pinned to {HOTFIX_IMAGE} until 1.4.3 ships"}}
    live.append(kubectl_order(livify_object(cluster, notes, app=None, namespace=DEMO_NAMESPACE,
                                            applied_at=SET_IMAGE_AT - timedelta(minutes=2))))
    return live


def write_demo_snapshot(repo_path: Path, dest: Path) -> Path:
    """Write the demo cluster as a snapshot file; Secret values included (they equal Git's, as live would)."""
    objects = demo_live_objects(repo_path)
    resources = [Resource(ResourceKey.of(o), o["apiVersion"], o, Origin("snapshot", file=str(dest)))
                 for o in objects]
    kinds = {r.key.group_kind for r in resources} | {MISSING.group_kind}
    state = LiveState(resources=resources, info={
        "server": "https://demo-cluster.shop.example:6443", "context": "demo",
        "kubernetes_version": "v1.30.4",
        "time": SNAPSHOT_AT.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scope": {"kinds": kinds, "namespaces": {DEMO_NAMESPACE}, "selector": None}})
    write_snapshot(state, dest, include_secret_values=True)
    return dest
