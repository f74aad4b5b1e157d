"""The whole corpus app against a cluster that synced it: no false alarm, and the two known controller edits.

The corpus's blog-system app (40 objects, kustomize-rendered) is turned into the live objects a cluster
holds after an ArgoCD sync and the controllers' reconciliation (the demo's livify: server defaults,
status, managedFields, tracking, Rollout hashes in DestinationRules, HPA-set replicas). With the
argo-rollouts and hpa packs every object must be in-sync; without them exactly the controllers' edits
show, nothing else.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import yaml

from driftcheck.apps import path_app
from driftcheck.compare import CompareOptions, compare_app, load_rules
from driftcheck.model import LiveState, Origin, Resource, ResourceKey
from testing.livify import livify

APP = path_app("blog-system", "services/blog-system", "blog-system")


def resources(bodies: list[dict], origin: str) -> list[Resource]:
    return [Resource(ResourceKey.of(b, APP.namespace), b["apiVersion"], b, Origin(origin)) for b in bodies]


def test_synced_corpus_app_is_in_sync_with_packs_and_shows_only_controller_edits_without(
        corpus_repo: Path) -> None:
    rendered = subprocess.run(["kubectl", "kustomize", str(corpus_repo / APP.path)], check=True,
                              capture_output=True, text=True).stdout
    desired = [d for d in yaml.safe_load_all(rendered) if d]
    synced = datetime(2026, 11, 20, tzinfo=UTC)
    live = livify(desired, app=APP.name, namespace=APP.namespace, applied_at=synced)
    state = LiveState(resources(live, "cluster"))

    rules, _ = load_rules(["argo-rollouts", "hpa"], [], [])
    with_packs = compare_app(APP, resources(desired, "git"), state, rules, CompareOptions())
    assert len(with_packs) == 40
    assert {r.status for r in with_packs} == {"in-sync"}
    assert rules.errors() == []

    rules, _ = load_rules([], [], [])
    without = compare_app(APP, resources(desired, "git"), state, rules, CompareOptions())
    drifted = {f"{r.key.kind}/{r.key.name}": sorted(d.path for d in r.diffs) for r in without if r.diffs}
    assert drifted == {
        "Rollout/was": ["/spec/replicas"],
        "Rollout/web": ["/spec/replicas"],
        "DestinationRule/was-dest-rule": ["/spec/subsets/0/labels", "/spec/subsets/1/labels"],
        "DestinationRule/web-dest-rule": ["/spec/subsets/0/labels", "/spec/subsets/1/labels"],
    }
