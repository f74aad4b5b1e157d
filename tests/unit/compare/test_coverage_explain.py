"""Coverage per namespace (managed vs unmanaged) and the --explain text."""

from __future__ import annotations

import gc
import weakref

from driftcheck.compare import CompareOptions, coverage, explain
from driftcheck.compare.engine import live_index
from driftcheck.model import LiveState
from testing.compare_helpers import APP, res, run


def obj(kind: str, name: str, ns: str = "blog-system", api: str = "v1", **meta: object) -> dict:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns, **meta}}


def test_coverage_counts_managed_and_lists_unmanaged_skipping_controller_made() -> None:
    desired = [obj("Service", "web-service"), obj("ConfigMap", "was-config")]
    live = [
        *desired,
        obj("ConfigMap", "tracked-elsewhere", labels={"app.kubernetes.io/instance": "blog-system"}),
        obj("ConfigMap", "hand-made"),
        obj("Secret", "debug-creds"),
        obj("ConfigMap", "kube-root-ca.crt"),
        obj("Endpoints", "web-service"),
        obj("ReplicaSet", "web-6f9c", api="apps/v1", ownerReferences=[{"kind": "Rollout", "name": "web"}]),
        obj("ConfigMap", "other-namespace", ns="monitoring"),
    ]
    results, _, _ = run(desired, live)
    table, unmanaged = coverage([APP], results, LiveState([res(b, "cluster") for b in live]))
    assert table == [{"namespace": "blog-system", "managed": 3, "unmanaged": 2}]
    listed = [(u["kind"], u["name"]) for u in unmanaged]
    assert listed == [("ConfigMap", "hand-made"), ("Secret", "debug-creds")]


def test_explain_shows_both_sides_differences_with_attribution_and_ignored_rules() -> None:
    desired = {**obj("Deployment", "web", api="apps/v1"), "spec": {"replicas": 2, "paused": False}}
    live = {**desired, "metadata": {**desired["metadata"], "uid": "0b1c", "managedFields": [
        {"manager": "kubectl", "operation": "Update", "subresource": "scale", "time": "2026-11-25T13:04:11Z",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
        "spec": {"replicas": 5, "paused": True}, "status": {"replicas": 5}}
    [result], _, _ = run([desired], [live], app_rules=[{"group": "apps", "kind": "Deployment",
                                                         "jsonPointers": ["/spec/paused"]}])
    text = explain(result, res(desired), res(live, "cluster"))
    assert "Deployment.apps/blog-system/web  (app blog-system): drifted" in text
    assert "/spec/replicas: 2 → 5  by kubectl (Update, subresource scale) at 2026-11-25T13:04:11Z" in text
    assert "/spec/paused  ignored by rule app:blog-system#0" in text
    live_part = text.split("--- live")[1].split("--- differences")[0]
    assert "replicas: 5" in live_part and "uid" not in live_part and "status" not in live_part


def test_live_objects_are_not_kept_alive_by_the_index_once_their_live_state_is_gone() -> None:
    """The index shared by every app's comparison is dropped with its LiveState (memory while reports
    are written)."""
    live = LiveState([res(obj("ConfigMap", "web-config"), "cluster")])
    index = live_index(live, CompareOptions())
    assert live_index(live, CompareOptions()) is index, "built once per LiveState"
    key = weakref.ref(live.resources[0].key)
    del live, index
    gc.collect()
    assert key() is None
