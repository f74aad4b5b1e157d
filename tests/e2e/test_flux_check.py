"""`check --flux clusters/production` on a bootstrap-layout Flux repository against the emulator holding
what Flux applied (owner labels and all): the root's patch, targetNamespace, images, components and the
postBuild substitution reach the objects, a `kubectl edit` is exactly the one drift, an `ssa: Ignore`
object is not compared, a Kustomization whose source does not exist is an app error naming it while
the others are checked; `apps --flux` lists the Kustomizations."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from driftcheck.cli import main
from testing import flux_repo


def write_repo(git_repo: Any, extra: dict[str, str] | None = None) -> None:
    git_repo.commit({**flux_repo.FILES, **(extra or {})}, "flux bootstrap")


def rendered(git_repo: Any, tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "desired"
    result = CliRunner().invoke(main, ["render", "--repo", str(git_repo.path), "--flux",
                                       "clusters/production", "--repo-url", flux_repo.URL, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return [yaml.safe_load(p.read_text()) for p in sorted(out.rglob("*.yaml"))]


def test_apps_lists_the_kustomizations(git_repo: Any) -> None:
    write_repo(git_repo)
    result = CliRunner().invoke(main, ["apps", "--repo", str(git_repo.path), "--flux",
                                       "clusters/production", "--repo-url", flux_repo.URL, "-o", "json"])
    assert result.exit_code == 0, result.output
    apps = {a["name"]: a for a in json.loads(result.output[result.output.index("{"):])["apps"]}
    assert sorted(apps) == ["flux-system/apps", "flux-system/flux-system", "flux-system/infrastructure"]
    assert apps["flux-system/apps"]["declared"] == \
        "clusters/production/apps.yaml:1 (rendered by flux-system/flux-system)"
    assert apps["flux-system/apps"]["sources"] == [
        {"repo": "(this repository)", "path": "apps/production", "revision": "(the run's commit)"}]
    assert apps["flux-system/apps"]["destination"]["namespace"] == "podinfo"
    assert apps["flux-system/flux-system"]["declared"] == "clusters/production/flux-system/gotk-sync.yaml:12"


def test_rendered_as_flux_builds_it(git_repo: Any, tmp_path: Path) -> None:
    write_repo(git_repo)
    objects = {(o["kind"], o["metadata"]["name"]): o for o in rendered(git_repo, tmp_path)}
    deployment = objects[("Deployment", "podinfo")]
    assert deployment["metadata"]["namespace"] == "podinfo"  # targetNamespace
    assert deployment["spec"]["replicas"] == 2  # substitute, and the type change after it
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/stefanprodan/podinfo:6.5.0"  # images
    assert container["env"] == [{"name": "CLUSTER", "value": "production"}]  # the root's patch of apps
    assert deployment["metadata"]["annotations"]["example.com/monitored"] == "true"  # components
    assert deployment["metadata"]["labels"] == {"kustomize.toolkit.fluxcd.io/name": "apps",
                                                "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
    # infrastructure/ has no kustomization: the generated one lists the file and the sub-directory's file
    assert objects[("Namespace", "podinfo")]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == \
        "infrastructure"
    assert ("ResourceQuota", "pods") in objects


def live_copy(body: dict[str, Any]) -> dict[str, Any]:
    live = copy.deepcopy(body)
    live["metadata"]["managedFields"] = [{"manager": "kustomize-controller", "operation": "Apply",
                                          "apiVersion": body["apiVersion"], "fieldsType": "FieldsV1",
                                          "fieldsV1": {"f:metadata": {"f:labels": {}}}}]
    return live


def test_check_finds_exactly_the_kubectl_edit(git_repo: Any, tmp_path: Path) -> None:
    write_repo(git_repo)
    desired = rendered(git_repo, tmp_path)
    live = [live_copy(o) for o in desired]
    edited = next(o for o in live if o["kind"] == "Deployment")
    edited["spec"]["replicas"] = 5  # kubectl edit
    edited["metadata"]["managedFields"].append({"manager": "kubectl-edit", "operation": "Update",
                                                "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
                                                "fieldsV1": {"f:spec": {"f:replicas": {}}}})
    cache = next(o for o in live if o["metadata"]["name"] == "podinfo-cache")
    cache["data"] = {"warm": "false"}  # ssa: Ignore: Flux leaves it alone, so does the check
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, live)
    by_name = {(r["kind"], r["name"]): r for r in report["resources"]}
    drifted = [k for k, r in by_name.items() if r["status"] == "drifted"]
    assert drifted == [("Deployment", "podinfo")], by_name
    assert [d["path"] for d in by_name[("Deployment", "podinfo")]["differences"]] == ["/spec/replicas"]
    assert by_name[("ConfigMap", "podinfo-cache")]["status"] == "in-sync"
    assert "ssa: Ignore" in by_name[("ConfigMap", "podinfo-cache")]["reason"]
    assert {r["status"] for k, r in by_name.items() if k not in drifted} == {"in-sync"}
    assert code == 1
    assert not report["errors"], report["errors"]


def test_missing_source_is_an_app_error_and_the_rest_is_checked(git_repo: Any, tmp_path: Path) -> None:
    write_repo(git_repo, {"clusters/production/monitoring.yaml": flux_repo.MISSING_SOURCE})
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, [])
    errors = [e for e in report["errors"] if e["app"] == "flux-system/monitoring" and e["stage"] == "source"]
    assert len(errors) == 1, report["errors"]
    assert "GitRepository flux-system/monitoring-repo does not exist" in errors[0]["message"]
    assert "clusters/production/monitoring.yaml:1" in errors[0]["message"]
    missing = {r["name"] for r in report["resources"] if r["status"] == "missing"}
    assert {"podinfo", "podinfo-settings", "pods"} <= missing  # the other Kustomizations were checked
    assert code == 2
