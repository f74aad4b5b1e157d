"""Rules scoped by desired state: HPA scale targets and the VirtualService routes a Rollout moves."""

from __future__ import annotations

import copy
from pathlib import Path

from driftcheck.compare import CompareOptions, load_rules
from testing.compare_helpers import one, paths, run

NS = "blog-system"
HPA = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
       "metadata": {"name": "api", "namespace": NS},
       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "api"},
                "minReplicas": 2, "maxReplicas": 6}}
STS = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "api", "namespace": NS},
       "spec": {"replicas": 2, "serviceName": "api"}}
ISTIO = {"istio": {"virtualService": {"name": "web-vsvc"}}}  # no `routes`: the controller moves them all
ROLLOUT = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
           "metadata": {"name": "web", "namespace": NS},
           "spec": {"strategy": {"canary": {"trafficRouting": ISTIO}}}}
VS = {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
      "metadata": {"name": "web-vsvc", "namespace": NS},
      "spec": {"http": [{"route": [{"destination": {"host": "web", "subset": "stable"}, "weight": 100},
                                   {"destination": {"host": "web", "subset": "canary"}, "weight": 0}]}]}}


def scaled(body: dict, replicas: int) -> dict:
    out = copy.deepcopy(body)
    out["spec"]["replicas"] = replicas
    return out


def test_hpa_target_of_any_kind_is_ignored_only_where_an_hpa_points() -> None:
    other = {**STS, "metadata": {"name": "worker", "namespace": NS}}
    results, _, unused = run([HPA, STS, other], [HPA, scaled(STS, 5), scaled(other, 5)], packs=["hpa"])
    by_name = {r.key.name: r for r in results if r.key.kind == "StatefulSet"}
    assert by_name["api"].status == "in-sync"
    assert [(i.path, i.rule) for i in by_name["api"].ignored] == [("/spec/replicas", "hpa#0")]
    assert by_name["worker"].status == "drifted" and paths(by_name["worker"]) == ["/spec/replicas"]
    assert unused == []


def test_hpa_rule_is_unused_when_no_hpa_targets_anything_compared() -> None:
    _, _, unused = run([STS], [scaled(STS, 5)], packs=["hpa"])
    assert unused == ["hpa#0"]


def test_rollout_naming_no_routes_moves_every_route_weight() -> None:
    live = copy.deepcopy(VS)
    live["spec"]["http"][0]["route"][0]["weight"], live["spec"]["http"][0]["route"][1]["weight"] = 80, 20
    results, _, _ = run([ROLLOUT, VS], [ROLLOUT, live], packs=["argo-rollouts"])
    vs = next(r for r in results if r.key.kind == "VirtualService")
    assert vs.status == "in-sync"
    assert sorted(i.path for i in vs.ignored) == [
        "/spec/http/0/route/0/weight", "/spec/http/0/route/1/weight"]


def test_weights_of_a_virtualservice_no_rollout_names_still_count() -> None:
    live = copy.deepcopy(VS)
    live["spec"]["http"][0]["route"][0]["weight"] = 80
    result = one(VS, live, packs=["argo-rollouts"])
    assert paths(result) == ["/spec/http/0/route/0/weight"]


def test_crd_status_is_compared_only_on_request() -> None:
    desired = {**VS, "status": {"validationMessages": []}}
    live = {**VS, "status": {"validationMessages": [{"type": {"code": "IST0101"}}]}}
    assert one(desired, live).status == "in-sync"
    assert paths(one(desired, live, options=CompareOptions(compare_status=True))) == [
        "/status/validationMessages/0"]


def test_rule_files_read_from_git_get_file_ids_and_same_names_stay_distinct(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "team.yaml").write_text("- kind: Service\n  jsonPointers: [/spec/a]\n")
    rules, errors = load_rules([], [tmp_path / "a" / "team.yaml"],
                               [("rules/team.yaml", b"- kind: Service\n  jsonPointers: [/spec/b]\n")])
    assert errors == []
    assert [r.id for r in rules.rules] == ["file:team.yaml#0", "file:rules/team.yaml#0"]


def test_keda_scaled_object_without_kind_targets_a_deployment() -> None:
    scaled_object = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
                     "metadata": {"name": "api", "namespace": NS},
                     "spec": {"scaleTargetRef": {"name": "api"}}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": NS},
                  "spec": {"replicas": 1}}
    results, _, _ = run([scaled_object, deployment], [scaled_object, scaled(deployment, 7)], packs=["hpa"])
    assert {r.key.kind: r.status for r in results} == {"ScaledObject": "in-sync", "Deployment": "in-sync"}
