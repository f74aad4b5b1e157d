"""`.argocd-source-<app>.yaml` (Argo CD Image Updater's write-back) changes what an Application renders."""

from __future__ import annotations

from pathlib import Path

import yaml

from testing.planted import run_cli
from tests.conftest import GitRepoBuilder

APP = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}, namespace: argocd}}
spec:
  source:
    repoURL: https://git.example.com/gitops.git
    path: {path}
    kustomize:
      images: [nginx=nginx:1.0]
  destination: {{server: https://kubernetes.default.svc, namespace: web}}
"""
KUSTOMIZATION = "resources: [deploy.yaml]\n"
DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
"""


def _image(out: Path) -> str:
    body = yaml.safe_load((out / "web" / "Deployment.web.yaml").read_text())
    return str(body["spec"]["template"]["spec"]["containers"][0]["image"])


def test_the_apps_override_file_wins_and_a_broken_one_is_that_apps_error(git_repo: GitRepoBuilder,
                                                                         tmp_path: Path) -> None:
    git_repo.commit({
        "argocd/web.yaml": APP.format(name="web", path="web"),
        "argocd/api.yaml": APP.format(name="api", path="api"),
        "web/kustomization.yaml": KUSTOMIZATION, "web/deploy.yaml": DEPLOY,
        "web/.argocd-source.yaml": "kustomize:\n  images: [nginx=nginx:1.1]\n",
        "web/.argocd-source-web.yaml": "kustomize:\n  images: [nginx=nginx:1.2]\n",
        "api/kustomization.yaml": KUSTOMIZATION, "api/deploy.yaml": DEPLOY,
        "api/.argocd-source-api.yaml": "kustomize: [not, a, mapping\n",
    }, "apps with image updater write-back")
    out = tmp_path / "out"
    result = run_cli(["render", "--repo", str(git_repo.path), "--argocd-apps", "argocd/*.yaml",
                      "--out", str(out)], tmp_path / "logs")
    assert result.returncode == 2, result.stderr
    assert _image(out) == "nginx:1.2"  # the generic file, then the app's own, over the Application
    assert "app api" in result.stderr and "api/.argocd-source-api.yaml" in result.stderr
    assert "error while parsing source parameters" in result.stderr
