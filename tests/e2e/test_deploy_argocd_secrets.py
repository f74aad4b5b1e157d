"""deploy/components/argocd-secrets: the opt-in grant that lets `--argocd-namespace argocd` read ArgoCD's
cluster and repository Secrets is least privilege — get/list on Secrets in `argocd` only, bound to the
base's ServiceAccount — and the default install and the example overlay stay without it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def kustomize(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def with_component(tmp_path: Path) -> list[dict[str, Any]]:
    """An installation of base plus the component, as deploy/README.md tells users to write it."""
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    overlay = tmp_path / "deploy" / "overlays" / "instance"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["../../base"], "components": ["../../components/argocd-secrets"]}))
    return kustomize(overlay)


def test_the_component_grants_get_and_list_on_secrets_in_argocd_only(tmp_path: Path) -> None:
    docs = with_component(tmp_path)
    [role] = [d for d in docs if d["kind"] == "Role"]
    [binding] = [d for d in docs if d["kind"] == "RoleBinding"]
    [account] = [d for d in docs if d["kind"] == "ServiceAccount"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "argocd"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": account["metadata"]["namespace"]}]
    [cluster_role] = [d for d in docs if d["kind"] == "ClusterRole"]
    assert not [r for r in cluster_role["rules"] if "secrets" in r["resources"]]  # nothing cluster-wide


def test_without_the_component_nothing_reads_argocd_secrets() -> None:
    for install in (DEPLOY, DEPLOY / "overlays" / "example"):
        docs = kustomize(install)
        assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding")
                    and d["metadata"].get("namespace") == "argocd"], install
