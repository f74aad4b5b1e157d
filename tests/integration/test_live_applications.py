"""`check --argocd-namespace argocd` against the API emulator holding Application objects (as the UI, the
CLI or an ApplicationSet controller made them): one read-only LIST of applications.argoproj.io in that
namespace, each Application rendered from its sources in Git and compared; an Application driftcheck
cannot render is skipped with the reason; a namespace without Applications, or a cluster without
ArgoCD's CRDs, is one clear error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner

from driftcheck.cli import main
from testing.k8s_emulator import DEFAULT_RESOURCES, ApiResource, KubernetesEmulator

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

URL = "https://git.example.com/org/gitops.git"
APPLICATIONS = ApiResource("argoproj.io", ("v1alpha1",), "Application", "applications", True, ("app",))
APPS_PATH = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"


def application(name: str, namespace: str = "argocd", **source: Any) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": namespace, "uid": name, "resourceVersion": "3"},
            "spec": {"project": "default", "source": {"repoURL": URL, "targetRevision": "HEAD", **source},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"}},
            "status": {"sync": {"status": "OutOfSync"}}, "operation": {"sync": {}}}


def config_map(name: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "web", "labels": {"app": name}}, "data": {"mode": value}}


@pytest.fixture
def argocd_api() -> Iterator[KubernetesEmulator]:
    with KubernetesEmulator(token="t0ken", resources=(*DEFAULT_RESOURCES, APPLICATIONS)) as api:
        api.add(application("web", path="apps/web"), application("api", path="apps/api"),
                application("kasane", path="plugins/kasane", plugin={"name": "kasane"}),
                application("elsewhere", namespace="team-a", path="apps/web"),
                config_map("web", "blue"), config_map("api", "changed live"))
        yield api


def run(repo: GitRepoBuilder, api: KubernetesEmulator, tmp_path: Path,
        *flags: str) -> tuple[int, str, dict[str, Any] | None]:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["check", "--repo", str(repo.path), "--repo-url", URL,
                                       "--kubeconfig", str(api.write_kubeconfig(tmp_path / "kc")),
                                       "--out", str(out), "--format", "json", *flags])
    reports = sorted(out.rglob("report.json"))
    return result.exit_code, result.output, json.loads(reports[-1].read_text()) if reports else None


def commit_apps(repo: GitRepoBuilder) -> None:
    cm = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {0}, labels: {{app: {0}}}}}\n"
          "data: {{mode: blue}}\n")
    repo.commit({"apps/web/cm.yaml": cm.format("web"), "apps/api/cm.yaml": cm.format("api")}, "apps")


def test_the_applications_the_cluster_holds_are_checked(
        git_repo: GitRepoBuilder,
        argocd_api: KubernetesEmulator, tmp_path: Path) -> None:
    commit_apps(git_repo)
    code, output, report = run(git_repo, argocd_api, tmp_path, "--argocd-namespace", "argocd",
                               "-l", "app in (web,api)")
    assert report is not None, output
    assert {a["name"]: (a["origin"], a["status"]) for a in report["apps"]} == {
        "api": ("cluster Application argocd/api", "drifted"),
        "web": ("cluster Application argocd/web", "in-sync"),
        "kasane": ("cluster Application argocd/kasane", "skipped")}
    assert {f"{r['app']}/{r['name']}": r["status"] for r in report["resources"]} == {
        "web/web": "in-sync", "api/api": "drifted"}
    [skipped] = [a for a in report["apps"] if a["status"] == "skipped"]
    assert skipped["reason"] == ("spec.source: needs the config management plugin kasane "
                                 "(plugins are not supported)")
    assert code == 1
    lists = [r for r in argocd_api.requests if r.path == APPS_PATH]
    assert len(lists) == 1 and "labelSelector" not in lists[0].query  # -l chooses objects, not apps
    assert not [r for r in argocd_api.requests if "team-a" in r.path]
    assert {r.method for r in argocd_api.requests} == {"GET"}


def test_a_namespace_without_applications_is_one_clear_error(git_repo: GitRepoBuilder,
                                                             argocd_api: KubernetesEmulator,
                                                             tmp_path: Path) -> None:
    commit_apps(git_repo)
    code, output, report = run(git_repo, argocd_api, tmp_path, "--argocd-namespace", "gitops")
    assert code == 2 and report is None
    assert "--argocd-namespace gitops: the cluster holds no Application in namespace gitops" in output


def test_a_cluster_without_argocd_is_one_clear_error(git_repo: GitRepoBuilder,
                                                     argocd_api: KubernetesEmulator, tmp_path: Path) -> None:
    commit_apps(git_repo)
    argocd_api.unserve("argoproj.io", "Application")
    code, output, _ = run(git_repo, argocd_api, tmp_path, "--argocd-namespace", "argocd")
    assert code == 2
    assert "the cluster does not serve applications.argoproj.io (ArgoCD's CRDs are not installed)" in output
