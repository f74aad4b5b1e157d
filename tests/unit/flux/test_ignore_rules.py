"""Flux's ignore rules (Kustomization.spec.ignore, HelmRelease.spec.driftDetection.ignore) converted once
and applied by the comparison: paths hidden only where the target selects the object, target regexes
anchored as Flux anchors them, label/annotation selectors, `""` the whole object, bad entries named."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from driftcheck.compare.engine import CompareOptions, compare_app
from driftcheck.compare.rules import RuleSet
from driftcheck.flux.helm_drift import ignore_rules as helm_ignore_rules
from driftcheck.flux.ignore_rules import ignore_rules
from driftcheck.flux.objects import FluxObjectError
from driftcheck.model import App, AppSource, GitSource, LiveState, Origin, Render, Resource, ResourceKey


def _deployment(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "web", "labels": labels or {}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "a:1"}]}}}}


def _verdicts(entries: list[dict[str, Any]], desired: list[dict[str, Any]],
              edit: Any) -> dict[str, tuple[str, list[str]]]:
    """name -> (status, drifted paths) after `edit` changed each live copy."""
    app = App("flux-system/apps", (AppSource(GitSource(path="apps"), Render(tool="flux")),),
              ignore=ignore_rules(entries, "Kustomization flux-system/apps: spec.ignore"))
    live = []
    for body in desired:
        copied = copy.deepcopy(body)
        edit(copied)
        live.append(Resource(ResourceKey.of(copied), "apps/v1", copied, Origin("cluster")))
    results = compare_app(app, [Resource(ResourceKey.of(b), "apps/v1", b, Origin("git", "apps/d.yaml"))
                                for b in desired], LiveState(resources=live), RuleSet(), CompareOptions())
    return {r.key.name: (r.status, [d.path for d in r.diffs]) for r in results}


def _scale_and_retag(body: dict[str, Any]) -> None:
    body["spec"]["replicas"] = 5
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "a:2"


def test_a_path_is_hidden_and_another_edit_is_still_drift() -> None:
    got = _verdicts([{"paths": ["/spec/replicas"]}], [_deployment("web")], _scale_and_retag)
    assert got == {"web": ("drifted", ["/spec/template/spec/containers/0/image"])}


def test_target_regexes_are_anchored_whole() -> None:
    desired = [_deployment("web"), _deployment("web-canary"), _deployment("my-web")]
    got = _verdicts([{"paths": ["/spec/replicas"], "target": {"kind": "Deploy", "name": "web"}}], desired,
                    lambda b: b["spec"].update(replicas=5))
    assert {n: s for n, (s, _) in got.items()} == {"web": "drifted", "web-canary": "drifted",
                                                   "my-web": "drifted"}  # "Deploy" is not "Deployment"
    got = _verdicts([{"paths": ["/spec/replicas"], "target": {"kind": "Deployment", "name": "web|my-.*"}}],
                    desired, lambda b: b["spec"].update(replicas=5))
    assert {n: s for n, (s, _) in got.items()} == {"web": "in-sync", "web-canary": "drifted",
                                                   "my-web": "in-sync"}


def test_label_and_annotation_selectors_choose_the_objects() -> None:
    desired = [_deployment("a", {"tier": "web"}), _deployment("b", {"tier": "db"}), _deployment("c")]
    got = _verdicts([{"paths": ["/spec/replicas"], "target": {"labelSelector": "tier in (web,cache)"}}],
                    desired, lambda b: b["spec"].update(replicas=5))
    assert {n: s for n, (s, _) in got.items()} == {"a": "in-sync", "b": "drifted", "c": "drifted"}
    got = _verdicts([{"paths": ["/spec/replicas"], "target": {"labelSelector": "tier!=db"}}], desired,
                    lambda b: b["spec"].update(replicas=5))
    assert {n: s for n, (s, _) in got.items()} == {"a": "in-sync", "b": "drifted", "c": "in-sync"}
    desired[2]["metadata"]["annotations"] = {"autoscaled": "yes"}
    got = _verdicts([{"paths": ["/spec/replicas"], "target": {"annotationSelector": "autoscaled"}}], desired,
                    lambda b: b["spec"].update(replicas=5))
    assert {n: s for n, (s, _) in got.items()} == {"a": "drifted", "b": "drifted", "c": "in-sync"}


def test_the_empty_path_ignores_the_whole_object_and_pointers_unescape() -> None:
    got = _verdicts([{"paths": [""], "target": {"name": "a"}}], [_deployment("a"), _deployment("b")],
                    _scale_and_retag)
    assert got["a"][0] == "in-sync" and got["b"][0] == "drifted"
    body = _deployment("a")
    body["metadata"]["annotations"] = {"example.com/owner": "team"}
    got = _verdicts([{"paths": ["/metadata/annotations/example.com~1owner"]}], [body],
                    lambda b: b["metadata"]["annotations"].update({"example.com/owner": "ops"}))
    assert got == {"a": ("in-sync", [])}


@pytest.mark.parametrize(("entries", "message"), [
    ([{"target": {"kind": "Deployment"}}], "spec.ignore[0] needs paths"),
    ([{"paths": ["spec/replicas"]}], "spec.ignore[0]: ignore path 'spec/replicas' is not a JSON pointer"),
    ([{"paths": ["/a"]}, {"paths": ["/b"], "target": {"name": "web("}}],
     "spec.ignore[1]: target.name 'web(' is not a regex"),
    ([{"paths": ["/a"], "target": {"labelSelector": "a in b"}}],
     "spec.ignore[0]: target.labelSelector: 'a in b' is not a selector term"),
    ({"paths": ["/a"]}, "spec.ignore is not a list"),
])
def test_a_malformed_entry_is_named(entries: Any, message: str) -> None:
    with pytest.raises(FluxObjectError) as raised:
        ignore_rules(entries, "Kustomization flux-system/apps: spec.ignore")
    assert str(raised.value).startswith(f"Kustomization flux-system/apps: {message}")


def test_helm_releases_share_the_converter() -> None:
    spec = {"driftDetection": {"mode": "enabled", "ignore": [{"paths": ["/spec/replicas"],
                                                                "target": {"kind": "Deployment"}}]}}
    assert helm_ignore_rules(spec, "HelmRelease flux-system/web") == ignore_rules(
        spec["driftDetection"]["ignore"], "")
    with pytest.raises(FluxObjectError) as raised:
        helm_ignore_rules({"driftDetection": {"ignore": [{}]}}, "HelmRelease flux-system/web")
    assert str(raised.value) == "HelmRelease flux-system/web: spec.driftDetection.ignore[0] needs paths"
