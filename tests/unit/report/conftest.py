"""A realistic AuditReport for the report tests: three apps, every status, attribution, history, errors,
and hostile strings where a cluster or a commit could put them."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from driftcheck.model import (
    AuditReport,
    ChangedBy,
    DeployEvent,
    FieldDiff,
    IgnoredField,
    Origin,
    ResourceKey,
    ResourceResult,
    RunError,
    SkippedApp,
)

HOSTILE_SCRIPT = "<script>document.title='pwned'</script>"
HOSTILE_IMG = '"><img src=x onerror=alert(1)>'
FRONTEND = "ghcr.io/acme/frontend:"


def sha(c: str) -> str:
    return c * 40


def sample_report(generated_at: str = "2026-11-26T09:00:00+00:00") -> AuditReport:
    """Resources are deliberately listed out of order: the writers must sort them."""
    kubectl = ChangedBy("kubectl-edit", "Update", "2026-11-20T08:14:00Z")
    hpa = ChangedBy("kube-controller-manager", "Update", "2026-11-25T23:00:00Z", "scale")
    resources = [
        ResourceResult(ResourceKey("apps", "Deployment", "shop", "frontend"), "shop", "drifted", "apps/v1",
                       diffs=[FieldDiff("/spec/template/spec/containers/0/image", FRONTEND + "1.4.2",
                                        FRONTEND + "1.4.1", kubectl),
                              FieldDiff("/metadata/annotations/note", None, HOSTILE_SCRIPT + HOSTILE_IMG,
                                        kubectl, "set by hand in the cluster")],
                       ignored=[IgnoredField("/spec/replicas", "hpa#0")],
                       source=Origin("git", "apps/shop/frontend.yaml", 12, "c0ffee1"),
                       live_commit={"commit": "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12",
                                    "date": "2026-11-18T17:02:11+09:00", "behind": 3}),
        ResourceResult(ResourceKey("", "Service", "shop", "frontend"), "shop", "in-sync", "v1",
                       source=Origin("git", "apps/shop/frontend.yaml", 40)),
        ResourceResult(ResourceKey("", "ConfigMap", "shop", "frontend-config"), "shop", "missing", "v1",
                       source=Origin("git", "apps/shop/config.yaml", 1), reason="not found in the cluster"),
        ResourceResult(ResourceKey("apps", "Deployment", "payments", "api"), "payments", "drifted", "apps/v1",
                       diffs=[FieldDiff("/spec/template/spec/containers/0/resources/limits",
                                        {"cpu": "500m", "memory": "256Mi"}, {"cpu": "1", "memory": "512Mi"},
                                        hpa),
                              FieldDiff("/spec/template/spec/containers/0/env/1",
                                        {"name": "DEBUG", "value": "0"}, None, None, "removed live")],
                       source=Origin("git", "payments/deploy.yaml", 3)),
        ResourceResult(ResourceKey("", "Secret", "payments", "stripe"), "payments", "unknown", "v1",
                       source=Origin("git", "payments/secret.yaml", 1),
                       reason="forbidden: list secrets in payments"),
        ResourceResult(ResourceKey("networking.k8s.io", "Ingress", "payments", "debug"), "payments", "extra",
                       "networking.k8s.io/v1", reason="in the cluster, not in Git (once applied by argocd)"),
        ResourceResult(ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "monitoring-reader"),
                       "monitoring", "in-sync", "rbac.authorization.k8s.io/v1",
                       source=Origin("git", "monitoring/rbac.yaml", 1)),
    ]
    history = [
        DeployEvent(sha("1"), "2026-11-10T10:00:00+09:00", "Alice <a@acme.io>",
                    "frontend 1.4.1", app="shop", files=["apps/shop/frontend.yaml"],
                    images=[{"resource": "Deployment/shop/frontend", "container": "web",
                             "from": FRONTEND + "1.4.0", "to": FRONTEND + "1.4.1"}]),
        DeployEvent(sha("2"), "2026-11-20T11:30:00+01:00", "renovate[bot]",
                    "frontend 1.4.2 " + HOSTILE_IMG, app="shop", files=["apps/shop/frontend.yaml"],
                    images=[{"resource": "Deployment/shop/frontend", "container": "web",
                             "from": FRONTEND + "1.4.1", "to": FRONTEND + "1.4.2"}]),
        DeployEvent(sha("3"), "2026-11-22T16:45:00-05:00", "Bob <b@acme.io>",
                    'Revert "payments: scale to 6"', app="payments", files=["payments/deploy.yaml"],
                    revert_of=sha("4"),
                    replicas=[{"resource": "Deployment/payments/api", "from": 6, "to": 3}]),
        DeployEvent(sha("5"), "2026-11-24T09:00:00+00:00", "Carol <c@acme.io>",
                    "roll back frontend to 1.4.1", app="shop", files=["apps/shop/frontend.yaml"],
                    restores=sha("1"),
                    images=[{"resource": "Deployment/shop/frontend", "container": "web",
                             "from": FRONTEND + "1.4.2", "to": FRONTEND + "1.4.1"}]),
    ]
    apps = [
        {"name": "shop", "path": "apps/shop", "namespace": "shop", "origin": "argocd/shop.yaml",
         "status": "drifted", "counts": {"in-sync": 1, "drifted": 1, "missing": 1, "extra": 0, "unknown": 0},
         "errors": 0},
        {"name": "payments", "path": "payments", "namespace": "payments", "origin": "driftcheck.yaml",
         "status": "error", "counts": {"in-sync": 0, "drifted": 1, "missing": 0, "extra": 1, "unknown": 1},
         "errors": 1},
        {"name": "monitoring", "path": "monitoring", "namespace": "monitoring", "origin": "cli",
         "status": "in-sync", "counts": {"in-sync": 1, "drifted": 0, "missing": 0, "extra": 0, "unknown": 0},
         "errors": 0},
    ]
    return AuditReport(
        generated_at=generated_at,
        tool_version="0.1.0",
        source={"repo": "https://git.example.com/acme/gitops.git", "revision": "main",
                "commit": "c0ffee1" * 5 + "c0ffe", "commit_date": "2026-11-25T18:00:00+01:00",
                "at": None},
        cluster={"context": "prod-eu-1", "server": "https://10.0.0.1:6443", "snapshot": None},
        rules={"packs": ["hpa", "argo-rollouts"], "digest": "sha256:" + "ab" * 32,
               "unused": ["argo-rollouts#1"]},
        apps=apps,
        resources=resources,
        coverage=[{"namespace": "shop", "managed": 3, "unmanaged": 1},
                  {"namespace": "payments", "managed": 3, "unmanaged": 0}],
        unmanaged=[{"group": "", "kind": "ConfigMap", "namespace": "shop", "name": "kube-root-ca.crt"}],
        history=history,
        errors=[RunError("helm template failed: values.yaml:7: mapping values are not allowed here",
                         app="payments", file="payments/values.yaml", line=7, stage="render"),
                RunError(f"cannot parse {HOSTILE_SCRIPT}", app="shop", file="apps/shop/x.yaml", line=2,
                         stage="source")],
        skipped_apps=[SkippedApp("legacy", "source repo https://other.example.com is not this repo",
                                 "argocd/legacy.yaml")],
    )


@pytest.fixture
def report() -> AuditReport:
    return sample_report()


@pytest.fixture
def copy_report():
    """Independent copies, for tests that write the same report more than once."""
    base = sample_report()
    return lambda: copy.deepcopy(base)


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    return tmp_path / "reports"
