"""Statuses: missing, unknown (never missing for what was not read), extra, and controller-made objects."""

from __future__ import annotations

from testing.compare_helpers import run

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "was-config", "namespace": "blog-system"},
      "data": {"a": "1"}}
DR = {"apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
      "metadata": {"name": "web-dest-rule", "namespace": "blog-system"}, "spec": {"host": "web-service"}}


def by_name(results: list) -> dict[str, tuple[str, str]]:
    return {r.key.name: (r.status, r.reason) for r in results}


def test_missing_when_readable_and_absent() -> None:
    results, _, _ = run([CM], [])
    assert by_name(results) == {"was-config": ("missing", "in Git, not in the cluster")}


def test_unknown_when_the_kind_is_not_served_or_not_readable() -> None:
    forbidden = {("", "ConfigMap", "blog-system"): "forbidden: list configmaps in blog-system"}
    results, _, _ = run([CM, DR], [], not_served={("networking.istio.io", "DestinationRule")},
                        unreadable=forbidden)
    assert by_name(results) == {
        "was-config": ("unknown", "forbidden: list configmaps in blog-system"),
        "web-dest-rule": ("unknown", "resource type not served by the cluster (CRD not installed?)"),
    }
    results, _, _ = run([CM], [], unreadable={("", "ConfigMap", ""): "forbidden: list configmaps"})
    assert by_name(results)["was-config"][0] == "unknown"


def tracked(body: dict, label: bool = True, **meta: object) -> dict:
    m = {**body["metadata"], **meta}
    if label:
        m["labels"] = {"app.kubernetes.io/instance": "blog-system"}
    else:
        tracking_id = f"blog-system:/ConfigMap:blog-system/{m['name']}"
        m["annotations"] = {"argocd.argoproj.io/tracking-id": tracking_id}
    return {**body, "metadata": m}


def test_extra_for_tracked_objects_git_no_longer_has() -> None:
    old_cm = tracked({**CM, "metadata": {"name": "old-config", "namespace": "blog-system"}})
    by_annotation = tracked({**CM, "metadata": {"name": "older", "namespace": "blog-system"}}, label=False)
    other_app = {**CM, "metadata": {"name": "x", "namespace": "blog-system",
                                    "labels": {"app.kubernetes.io/instance": "monitoring"}}}
    results, _, _ = run([CM], [tracked(CM), old_cm, by_annotation, other_app])
    assert {k: v[0] for k, v in by_name(results).items()} == {
        "was-config": "in-sync", "old-config": "extra", "older": "extra"}


def test_controller_owned_objects_are_never_extra() -> None:
    rs = tracked({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
        "name": "web-6f9c8d7b5", "namespace": "blog-system",
        "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "web",
                             "uid": "u", "controller": True, "blockOwnerDeletion": True}]}})
    svc = tracked({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-service",
                                                                       "namespace": "blog-system"}})
    endpoints = tracked({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web-service",
                                                                              "namespace": "blog-system"}})
    results, _, _ = run([svc], [rs, svc, endpoints])
    assert by_name(results) == {"web-service": ("in-sync", "")}
