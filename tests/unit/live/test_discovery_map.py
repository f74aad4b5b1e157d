"""Discovery: kinds to API types from discovery documents, with as few documents as the kinds need."""

from __future__ import annotations

from typing import Any

import pytest

from driftcheck.live.connection import ApiError
from driftcheck.live.discovery import discover, gitops_kinds, kinds_named, served_types
from driftcheck.model import DriftcheckError


def resource(name: str, kind: str, namespaced: bool = True, verbs: tuple[str, ...] = ("get", "list"),
             short: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"name": name, "kind": kind, "namespaced": namespaced, "verbs": list(verbs),
            "shortNames": list(short)}


DOCUMENTS: dict[str, dict[str, Any]] = {
    "/api/v1": {"resources": [resource("namespaces", "Namespace", False, short=("ns",)),
                              resource("configmaps", "ConfigMap", short=("cm",)),
                              resource("events", "Event", short=("ev",)),
                              resource("pods", "Pod"), resource("pods/status", "Pod"),
                              resource("bindings", "Binding", verbs=("create",))]},
    "/apis": {"groups": [
        {"name": "apps", "versions": [{"version": "v1"}], "preferredVersion": {"version": "v1"}},
        {"name": "events.k8s.io", "versions": [{"version": "v1"}], "preferredVersion": {"version": "v1"}},
        {"name": "networking.istio.io", "versions": [{"version": "v1"}, {"version": "v1beta1"}],
         "preferredVersion": {"version": "v1"}},
        {"name": "argoproj.io", "versions": [{"version": "v1alpha1"}],
         "preferredVersion": {"version": "v1alpha1"}},
    ]},
    "/apis/apps/v1": {"resources": [resource("deployments", "Deployment", short=("deploy",)),
                                    resource("deployments/scale", "Scale")]},
    "/apis/events.k8s.io/v1": {"resources": [resource("events", "Event", short=("ev",))]},
    "/apis/networking.istio.io/v1": {"resources": [resource("destinationrules", "DestinationRule",
                                                            short=("dr",))]},
    "/apis/networking.istio.io/v1beta1": {"resources": [
        resource("destinationrules", "DestinationRule"), resource("workloadgroups", "WorkloadGroup")]},
    "/apis/argoproj.io/v1alpha1": {"resources": [
        resource("rollouts", "Rollout", short=("ro",)),
        resource("clusteranalysistemplates", "ClusterAnalysisTemplate", False)]},
}


class Documents:
    """Serves DOCUMENTS and remembers what was asked, as the API server would."""

    def __init__(self, failing: dict[str, ApiError] | None = None) -> None:
        self.asked: list[str] = []
        self.failing = failing or {}

    def __call__(self, path: str) -> dict[str, Any]:
        self.asked.append(path)
        if path in self.failing:
            raise self.failing[path]
        return DOCUMENTS[path]


def test_each_kind_maps_to_its_preferred_version_and_scope() -> None:
    get = Documents()
    found = discover(get, {("apps", "Deployment"), ("networking.istio.io", "DestinationRule"),
                           ("", "Namespace")})
    deployment = found.types[("apps", "Deployment")]
    assert (deployment.api_version, deployment.plural, deployment.namespaced) == (
        "apps/v1", "deployments", True)
    assert deployment.list_path("blog") == "/apis/apps/v1/namespaces/blog/deployments"
    assert found.types[("networking.istio.io", "DestinationRule")].version == "v1"
    namespace = found.types[("", "Namespace")]
    assert namespace.list_path("blog") == "/api/v1/namespaces", "a cluster-scoped type is listed cluster-wide"
    assert ("", "Namespace") in found.cluster_scoped and ("apps", "Deployment") not in found.cluster_scoped
    assert sorted(get.asked) == ["/api/v1", "/apis", "/apis/apps/v1", "/apis/networking.istio.io/v1"]


def test_a_kind_only_an_older_version_serves_is_found_there() -> None:
    get = Documents()
    found = discover(get, {("networking.istio.io", "WorkloadGroup")})
    assert found.types[("networking.istio.io", "WorkloadGroup")].api_version == "networking.istio.io/v1beta1"
    assert get.asked == ["/apis", "/apis/networking.istio.io/v1", "/apis/networking.istio.io/v1beta1"]


def test_kinds_the_cluster_does_not_serve_are_not_served() -> None:
    get = Documents()
    found = discover(get, {("bitnami.com", "SealedSecret"), ("argoproj.io", "AnalysisRun"), ("", "Binding"),
                           ("", "Kustomization")})
    assert found.not_served == {("bitnami.com", "SealedSecret"), ("argoproj.io", "AnalysisRun"),
                                ("", "Binding"), ("", "Kustomization")}
    assert not found.types and "/apis/bitnami.com/v1alpha1" not in get.asked
    assert ("argoproj.io", "ClusterAnalysisTemplate") in found.cluster_scoped, "seen on the way: recorded"


def test_core_only_kinds_need_one_document() -> None:
    get = Documents()
    discover(get, {("", "ConfigMap")})
    assert get.asked == ["/api/v1"]


def test_failed_discovery_is_recorded_per_kind_not_raised() -> None:
    get = Documents(failing={"/apis/argoproj.io/v1alpha1": ApiError(503, "ServiceUnavailable", "down"),
                             "/api/v1": ApiError(500, "InternalError", "boom")})
    found = discover(get, {("argoproj.io", "Rollout"), ("", "ConfigMap"), ("apps", "Deployment")})
    assert found.failed == {
        ("argoproj.io", "Rollout"):
            "discovery of /apis/argoproj.io/v1alpha1 failed: 503 ServiceUnavailable: down",
        ("", "ConfigMap"): "discovery of /api/v1 failed: 500 InternalError: boom"}
    assert set(found.types) == {("apps", "Deployment")} and not found.not_served
    everything = discover(Documents(failing={"/apis": ApiError(503, "ServiceUnavailable", "x")}),
                          {("apps", "Deployment")})
    assert everything.failed[("apps", "Deployment")].startswith("discovery of /apis failed")


def test_served_types_and_the_default_snapshot_kinds() -> None:
    types = served_types(Documents())
    kinds = {t.group_kind for t in types}
    assert {("", "Pod"), ("apps", "Deployment"), ("argoproj.io", "Rollout")} <= kinds
    assert ("", "Binding") not in kinds, "a type that cannot be listed is not served for reading"
    assert gitops_kinds(types) == {("", "Namespace"), ("", "ConfigMap"), ("apps", "Deployment"),
                                   ("networking.istio.io", "DestinationRule"), ("argoproj.io", "Rollout"),
                                   ("argoproj.io", "ClusterAnalysisTemplate")}


@pytest.mark.parametrize("names, expected", [
    (["deploy"], {("apps", "Deployment")}),
    (["Deployment", "deployments"], {("apps", "Deployment")}),
    (["Rollout.argoproj.io", "dr"], {("argoproj.io", "Rollout"), ("networking.istio.io", "DestinationRule")}),
    (["events"], {("", "Event")}),
    (["Event.events.k8s.io"], {("events.k8s.io", "Event")}),
    (["ns", "cm"], {("", "Namespace"), ("", "ConfigMap")}),
])
def test_kinds_are_named_as_kubectl_names_them(names: list[str], expected: set[tuple[str, str]]) -> None:
    assert kinds_named(served_types(Documents()), names) == expected


def test_an_unknown_kind_name_is_an_error() -> None:
    with pytest.raises(DriftcheckError, match=r"--kinds Rollout\.apps: the cluster serves no such kind"):
        kinds_named(served_types(Documents()), ["Rollout.apps"])
