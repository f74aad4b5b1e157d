"""Helm values files named by Git content never read the machine running the audit: ArgoCD's rule (relative
to the chart, a leading `/` from the repository root), and anything that resolves outside the repository
(`..`, a symlink, a file:// URL) is an app error naming the file and the app, while the other apps still
render.
The host file holds a planted secret, so the session's scan also proves it reached no output."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from testing import planted
from tests.conftest import GitRepoBuilder

CHART = {"chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
         "chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: values}\n"
                                    "data:\n  values: {{ toJson .Values | quote }}\n",
         "plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain, namespace: demo}\n"
                          "data: {a: '1'}\n"}
LIVE = {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain", "namespace": "demo"},
     "data": {"a": "1"}}]}


@pytest.fixture
def helm_sdk(require: Any) -> None:
    import importlib.util
    require(importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra (helm-python-sdk)")


@pytest.fixture
def host_file(tmp_path: Path) -> tuple[Path, str]:
    """A kubeconfig-like file of the auditor's machine, outside the repository."""
    token = planted.secret("host-kubeconfig")
    path = tmp_path / "host" / "kubeconfig.yaml"
    planted.write_input(path, f"users:\n- name: admin\n  user: {{token: {token}}}\n")
    return path, token


def apps_config(values_file: str) -> str:
    return ("apps:\n"
            f"  - {{name: cfg, path: chart, namespace: demo, valuesFiles: [{json.dumps(values_file)}]}}\n"
            "  - {name: plain, path: plain, namespace: demo}\n")


def check(repo: GitRepoBuilder, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    """`driftcheck check` on the repo's own driftcheck.yaml against a snapshot; (exit code, report.json)."""
    live = tmp_path / "live.json"
    live.write_text(json.dumps(LIVE))
    out = tmp_path / "out"
    proc = planted.run_cli(["check", "--repo", str(repo.path), "--live-snapshot", str(live),
                            "--out", str(out), "--format", "json,html,junit", "-o", "none"],
                           tmp_path / "logs")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(next(out.rglob("report.json")).read_text())


def test_absolute_values_file_means_the_repository_root_not_the_host(git_repo: GitRepoBuilder, tmp_path: Path,
                                                                   host_file: tuple[Path, str],
                                                                   helm_sdk: None) -> None:
    """`/abs/path` is read from the repository (ArgoCD's rule), so the in-repo decoy is used, never the
    host file at that same absolute path; an ArgoCD Application's valueFiles behave the same."""
    path, token = host_file
    application = ("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec:\n"
                   "  source:\n    repoURL: https://example.com/this.git\n    path: chart\n"
                   f"    helm: {{valueFiles: [{json.dumps(str(path))}]}}\n"
                   "  destination: {namespace: demo}\n")
    git_repo.commit({**CHART, str(path).lstrip("/"): "decoy: from-the-repository\n",
                     "driftcheck.yaml": apps_config(str(path)), "argocd/web.yaml": application}, "chart")
    rendered = tmp_path / "rendered"
    proc = planted.run_cli(["render", "--repo", str(git_repo.path), "--out", str(rendered)],
                           tmp_path / "logs")
    assert proc.returncode == 0, proc.stderr
    [cm] = rendered.rglob("ConfigMap.values.yaml")
    assert "from-the-repository" in cm.read_text() and token not in cm.read_text()
    proc = planted.run_cli(["render", "--repo", str(git_repo.path), "--argocd-apps", "argocd/*.yaml",
                            "--repo-url", "https://example.com/this.git", "--out", str(tmp_path / "argo")],
                           tmp_path / "logs")
    assert proc.returncode == 0, proc.stderr
    [cm] = (tmp_path / "argo").rglob("ConfigMap.values.yaml")
    assert "from-the-repository" in cm.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["dotdot", "absolute-dotdot", "symlink-absolute", "symlink-relative", "url"])
def test_values_file_leading_outside_the_repository_is_an_app_error(git_repo: GitRepoBuilder, tmp_path: Path,
                                                                   host_file: tuple[Path, str], how: str,
                                                                   helm_sdk: None) -> None:
    path, _ = host_file
    relative = os.path.relpath(path, git_repo.path / "chart")  # ../../host/kubeconfig.yaml
    values = {"dotdot": relative, "absolute-dotdot": f"/../{os.path.relpath(path, git_repo.path)}",
              "symlink-absolute": "values-prod.yaml", "symlink-relative": "values-prod.yaml",
              "url": f"file://{path}"}[how]
    git_repo.commit({**CHART, "driftcheck.yaml": apps_config(values)}, "chart")
    if how.startswith("symlink"):
        target = str(path) if how == "symlink-absolute" else relative
        os.symlink(target, git_repo.path / "chart" / "values-prod.yaml")
        git_repo.commit({}, "a values file leading out")
    code, report = check(git_repo, tmp_path)
    assert code == 2
    # ArgoCD fetches only http(s) values files (helm.valuesFileSchemes); a file:// URL is refused
    expected = {"url": "the URL scheme 'file' is not allowed"}.get(how, "outside the repository")
    assert report["errors"] and all(e["app"] == "cfg" for e in report["errors"]), report["errors"]
    # a symlink is also reported by the export, which leaves it out; ours names the values file
    assert any(values in e["message"] and expected in e["message"] for e in report["errors"]), \
        report["errors"]
    assert {(r["app"], r["status"]) for r in report["resources"]} == {("plain", "in-sync")}


def test_missing_values_file_is_skipped_only_when_argocd_says_so(git_repo: GitRepoBuilder, tmp_path: Path,
                                                                helm_sdk: None) -> None:
    """ArgoCD's ignoreMissingValueFiles: a missing file is skipped; without it, the app error names it."""
    def application(ignore: bool) -> str:
        return ("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec:\n"
                "  source:\n    repoURL: https://example.com/this.git\n    path: chart\n"
                f"    helm: {{valueFiles: [gone.yaml], ignoreMissingValueFiles: {str(ignore).lower()}}}\n"
                "  destination: {namespace: demo}\n")
    for ignore in (True, False):
        git_repo.commit({**CHART, "argocd/web.yaml": application(ignore)}, f"ignore {ignore}")
        out = tmp_path / f"out-{ignore}"
        proc = planted.run_cli(["render", "--repo", str(git_repo.path), "--argocd-apps", "argocd/*.yaml",
                                "--repo-url", "https://example.com/this.git", "--out", str(out)],
                               tmp_path / "logs")
        if ignore:
            assert proc.returncode == 0 and list(out.rglob("ConfigMap.values.yaml")), proc.stderr
        else:
            assert proc.returncode == 2 and "app web" in proc.stderr
            assert "values file chart/gone.yaml does not exist" in proc.stderr
