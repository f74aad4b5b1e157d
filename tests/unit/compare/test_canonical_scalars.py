"""Canonical scalars: quantities, int-or-string, null/empty as absent; opaque data compared verbatim."""

from __future__ import annotations

import pytest

from driftcheck.compare.canonical import parse_quantity, scalars_equal
from testing.compare_helpers import one, paths


def test_quantities_compare_by_value() -> None:
    limits = ("spec", "containers", "resources", "limits", "cpu")
    for a, b in [("500m", "0.5"), ("1Gi", "1073741824"), ("1e3", "1k"), ("2", 2), ("1000m", "1"),
                 ("0.1", "100m"), ("1.5Gi", "1536Mi"), ("100k", "1e5")]:
        assert scalars_equal(a, b, limits), (a, b)
    assert not scalars_equal("500m", "0.6", limits)
    assert not scalars_equal("1Gi", "1G", limits)  # binary and decimal suffixes differ
    assert parse_quantity("12Qi") is None


def test_quantity_lookalikes_outside_quantity_fields_are_plain_strings() -> None:
    assert not scalars_equal("500m", "0.5", ("data", "cpu"))
    assert not scalars_equal("1k", "1000", ("metadata", "annotations", "limits", "x"))


def test_int_or_string() -> None:
    assert scalars_equal("8080", 8080, ("spec", "ports", "targetPort"))
    assert not scalars_equal("8080", 8080, ("data", "port"))  # a ConfigMap value stays a string


META = {"name": "mysql", "namespace": "blog-system"}
GIT_CONTAINER = {"name": "mysql", "image": "mysql:8.0", "env": [],
                 "resources": {"limits": {"cpu": 0.5, "memory": "1Gi"}}}
DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": META,
          "spec": {"template": {"metadata": {"creationTimestamp": None},
                                "spec": {"containers": [GIT_CONTAINER]}}}}


def test_null_empty_and_quantities_in_a_workload_are_in_sync() -> None:
    container = {"name": "mysql", "image": "mysql:8.0",
                 "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}}}
    live = {**DEPLOY, "spec": {"template": {"metadata": {}, "spec": {"containers": [container]}}}}
    assert one(DEPLOY, live).status == "in-sync"


def test_null_in_git_removes_a_custom_resource_field_but_not_a_built_in_one() -> None:
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": META,
               "spec": {"paused": None}}
    result = one(rollout, {**rollout, "spec": {"paused": True}})
    assert paths(result) == ["/spec/paused"] and "null in Git" in result.diffs[0].note
    # a Helm chart rendering `strategy: null` must not flag the strategy the API server defaults
    deployment = {**DEPLOY, "spec": {"strategy": None}}
    defaulted = {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"}
    assert one(deployment, {**DEPLOY, "spec": {"strategy": defaulted}}).status == "in-sync"


def test_zero_values_the_api_does_not_store_are_not_missing() -> None:
    mount = {"name": "d", "mountPath": "/d", "readOnly": False, "subPath": ""}
    container = {"name": "mysql", "image": "mysql:8.0", "volumeMounts": [mount]}
    pod_spec = {"hostNetwork": False, "containers": [container]}
    desired = {**DEPLOY, "spec": {"template": {"spec": pod_spec}}}
    live = {**DEPLOY, "spec": {"template": {"spec": {"containers": [
        {"name": "mysql", "image": "mysql:8.0", "volumeMounts": [{"name": "d", "mountPath": "/d"}]}]}}}}
    assert one(desired, live).status == "in-sync"
    custom = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": META, "spec": {"enabled": False}}
    assert paths(one(custom, {**custom, "spec": {}})) == ["/spec/enabled"]  # a CRD stores what it is given


def test_custom_resource_lists_are_atomic_but_its_finalizers_are_a_set() -> None:
    meta = {**META, "finalizers": ["example.com/cleanup"]}
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta,
              "spec": {"subsets": [{"name": "a"}]}}
    live = {**widget, "metadata": {**meta, "finalizers": ["example.com/cleanup", "other.io/protect"]},
            "spec": {"subsets": [{"name": "a", "extra": 1}]}}
    assert paths(one(widget, live)) == ["/spec/subsets/0/extra"]


def test_autoscaling_v1_in_git_compares_with_the_v2_object_the_cluster_serves() -> None:
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": META,
          "spec": {"maxReplicas": 5, "targetCPUUtilizationPercentage": 60,
                   "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mysql"}}}
    metric = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                          "averageUtilization": 60}}}
    v2 = {**v1, "apiVersion": "autoscaling/v2", "spec": {**{k: v for k, v in v1["spec"].items()
                                                          if k != "targetCPUUtilizationPercentage"},
                                                       "metrics": [metric]}}
    assert one(v1, v2).status == "in-sync"
    v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = 90
    assert paths(one(v1, v2)) == ["/spec/metrics/0/resource/target/averageUtilization"]


def test_extra_content_in_a_custom_list_is_a_default_when_the_gitops_tool_wrote_the_list_last() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": META,
              "spec": {"backends": [{"name": "a"}]}}
    defaulted = {"backends": [{"name": "a", "weight": 1}]}

    def live(manager: str) -> dict:
        entry = {"manager": manager, "operation": "Update", "time": "2026-11-25T10:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:backends": {}}}}
        return {**widget, "metadata": {**META, "managedFields": [entry]}, "spec": defaulted}

    assert one(widget, live("argocd-controller")).status == "in-sync"
    assert paths(one(widget, live("kubectl-edit"))) == ["/spec/backends/0/weight"]


@pytest.mark.parametrize(("desired", "live", "equal"), [
    (0.1, "100m", True),  # Quantity.UnmarshalJSON reads the JSON text 0.1, not the binary float
    ("100Mi ", "100Mi", True),  # and trims blanks around it
    ("1K", "1k", False),  # K is no suffix of resource.Quantity (the Python client's parse_quantity takes it)
])
def test_quantities_compare_as_the_api_server_decodes_them(desired: object, live: object,
                                                           equal: bool) -> None:
    """Why the hand-written parser stays: kubernetes.utils.parse_quantity agrees on every conformance case
    but reads these three unlike apimachinery."""
    assert scalars_equal(desired, live, ("resources", "requests", "cpu")) is equal
