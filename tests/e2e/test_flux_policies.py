"""`check --flux` honours what Flux itself leaves alone, against the emulator: a Kustomization's
`spec.ignore` hides a live edit at its path while another edit is drift, and its target regexes are
anchored (`name: podinfo` is not `podinfo-settings`); `ssa: IfNotPresent` is in sync when present with
other content and missing when absent; `reconcile: disabled` (in Git or only on the live object) is not
compared; a stale object with `prune: disabled` is extra, with the reason Flux will not prune it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testing import flux_repo
from tests.e2e.test_flux_check import live_copy, rendered

IGNORE = """\
  ignore:
    - paths: ["/spec/replicas"]
      target:
        kind: Deployment
        name: podinfo
    - paths: ["/data/cluster"]
      target:
        kind: ConfigMap
        name: podinfo
"""
POLICY_MAPS = """\
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-seed
  annotations:
    kustomize.toolkit.fluxcd.io/ssa: IfNotPresent
data:
  token: initial
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-init
  labels:
    kustomize.toolkit.fluxcd.io/ssa: ifnotpresent
data:
  step: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-manual
  annotations:
    kustomize.toolkit.fluxcd.io/reconcile: disabled
data:
  mode: git
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-paused
data:
  mode: git
"""
OWNER = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}


def by_name(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["kind"], r["name"]): r for r in report["resources"]}


def test_spec_ignore_hides_its_path_only_on_the_objects_its_anchored_target_selects(
        git_repo: Any, tmp_path: Path) -> None:
    git_repo.commit({**flux_repo.FILES, "clusters/production/apps.yaml": flux_repo.APPS + IGNORE},
                    "apps ignores replicas")
    live = [live_copy(o) for o in rendered(git_repo, tmp_path)]
    deployment = next(o for o in live if o["kind"] == "Deployment")
    deployment["spec"]["replicas"] = 9  # an HPA's, say: spec.ignore hides it
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/stefanprodan/podinfo:9.9.9"
    settings = next(o for o in live if o["metadata"]["name"] == "podinfo-settings")
    settings["data"]["cluster"] = "staging"  # target name `podinfo` is ^(?:podinfo)$: not this one
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, live)
    results = by_name(report)
    drifted = {k: [d["path"] for d in r["differences"]] for k, r in results.items()
               if r["status"] == "drifted"}
    assert drifted == {("Deployment", "podinfo"): ["/spec/template/spec/containers/0/image"],
                       ("ConfigMap", "podinfo-settings"): ["/data/cluster"]}, results
    assert [i["path"] for i in results[("Deployment", "podinfo")]["ignored"]] == ["/spec/replicas"]
    assert {r["status"] for k, r in results.items() if k not in drifted} == {"in-sync"}
    assert not report["errors"], report["errors"]
    assert code == 1


def test_a_malformed_spec_ignore_is_an_app_error_naming_the_kustomization(git_repo: Any,
                                                                          tmp_path: Path) -> None:
    bad = IGNORE.replace("name: podinfo\n    - paths", "name: podinfo(\n    - paths")
    git_repo.commit({**flux_repo.FILES, "clusters/production/apps.yaml": flux_repo.APPS + bad}, "bad regex")
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, [])
    [error] = [e for e in report["errors"] if e["app"] == "flux-system/apps"]
    assert error["message"].startswith("Kustomization flux-system/apps: spec.ignore[0]: target.name "
                                       "'podinfo(' is not a regex")
    assert error["file"] == "clusters/production/apps.yaml"
    assert {r["name"] for r in report["resources"] if r["status"] == "missing"} >= {"podinfo", "pods"}
    assert code == 2


def test_flux_per_object_policies_give_flux_verdicts(git_repo: Any, tmp_path: Path) -> None:
    git_repo.commit({**flux_repo.FILES,
                     "apps/base/podinfo/configmaps.yaml": flux_repo.CONFIG_MAPS + POLICY_MAPS}, "policies")
    live = [live_copy(o) for o in rendered(git_repo, tmp_path)
            if o["metadata"]["name"] != "podinfo-init"]  # IfNotPresent and absent: Flux would create it
    named = {o["metadata"]["name"]: o for o in live}
    named["podinfo-seed"]["data"]["token"] = "rotated"  # IfNotPresent: Flux never updates it
    named["podinfo-manual"]["data"]["mode"] = "hand"  # reconcile: disabled in Git
    named["podinfo-paused"]["data"]["mode"] = "hand"
    named["podinfo-paused"]["metadata"]["annotations"] = {"kustomize.toolkit.fluxcd.io/reconcile": "Disabled"}
    stale = live_copy({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"},
                       "metadata": {"name": "podinfo-keep", "namespace": "podinfo",
                                    "labels": {**OWNER, "kustomize.toolkit.fluxcd.io/prune": "disabled"}}})
    apps = next(o for o in live if o["kind"] == "Kustomization" and o["metadata"]["name"] == "apps")
    apps["status"] = {"inventory": {"entries": [{"id": "podinfo_podinfo-keep__ConfigMap", "v": "v1"}]}}
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, [*live, stale])
    results = by_name(report)
    seed = results[("ConfigMap", "podinfo-seed")]
    assert seed["status"] == "in-sync" and "kustomize.toolkit.fluxcd.io/ssa: IfNotPresent" in seed["reason"]
    assert not seed.get("differences")
    init = results[("ConfigMap", "podinfo-init")]
    assert init["status"] == "missing" and "IfNotPresent" in init["reason"]
    manual = results[("ConfigMap", "podinfo-manual")]
    assert manual["status"] == "in-sync"
    assert "not compared: Git sets kustomize.toolkit.fluxcd.io/reconcile: disabled" in manual["reason"]
    paused = results[("ConfigMap", "podinfo-paused")]
    assert paused["status"] == "in-sync"
    assert "not compared: the live object sets kustomize.toolkit.fluxcd.io/reconcile" in paused["reason"]
    keep = results[("ConfigMap", "podinfo-keep")]
    assert keep["status"] == "extra" and keep["extra"] == "stale"
    assert "not pruned (kustomize.toolkit.fluxcd.io/prune: disabled)" in keep["reason"]
    verdicts = {k: r["status"] for k, r in results.items() if r["status"] != "in-sync"}
    assert verdicts == {("ConfigMap", "podinfo-init"): "missing", ("ConfigMap", "podinfo-keep"): "extra"}
    assert code == 1
