"""`check --argocd-settings` against the API emulator: argocd-cm's ignore rules (split keys, `.all`, the
legacy block, jq, managedFieldsManagers), exclusions, and the tracking method deciding which live objects
are the app's (label vs annotation, copies, cluster-scoped ids, IgnoreExtraneous, ownerReferences)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from driftcheck.cli import main
from testing.k8s_emulator import KubernetesEmulator

GIT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web, app.kubernetes.io/instance: release-web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, labels: {ops/owner: git}}
data: {a: "1"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: shop-viewer}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: shop-leader}
spec: {holderIdentity: nobody}
"""

SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-cm, namespace: argocd}
data:
  application.resourceTrackingMethod: {method}
  resource.customizations: |
    ConfigMap:
      ignoreDifferences: |
        jsonPointers: [/data/a]
    apps/Deployment:
      ignoreDifferences: |
        jsonPointers: [/spec/template/spec/containers/0/image]
  resource.customizations.ignoreDifferences.apps_Deployment: |
    jsonPointers: [/spec/replicas]
    managedFieldsManagers: [image-updater]
  resource.customizations.ignoreDifferences.all: |
    jqPathExpressions: ['.metadata.labels."ops/owner"']
"""


def tracked(name: str, *, label: bool = False, annotation: str = "", **meta: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "shop", **meta}
    if label:
        metadata.setdefault("labels", {})["app.kubernetes.io/instance"] = "shop"
    if annotation:
        metadata.setdefault("annotations", {})["argocd.argoproj.io/tracking-id"] = annotation
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"x": "1"}}


SPLIT = "resource.customizations.ignoreDifferences"
IMAGE_FIELDS = {"f:spec": {"f:template": {"f:spec": {"f:containers": {
    'k:{"name":"web"}': {".": {}, "f:image": {}}}}}}}


def live_objects() -> list[dict[str, Any]]:
    """As ArgoCD (label tracking overwrote the chart's instance label) and then others left them."""
    web = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "shop",
                        "labels": {"app": "web", "app.kubernetes.io/instance": "shop"},
                        "annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web"},
                        "managedFields": [{"manager": "image-updater", "operation": "Update",
                                           "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
                                           "fieldsV1": IMAGE_FIELDS}]},
           "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}}
    settings = tracked("settings", label=True, annotation="shop:/ConfigMap:shop/settings",
                       labels={"ops/owner": "manual"})
    settings["data"] = {"a": "2"}
    viewer = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
              "metadata": {"name": "shop-viewer", "labels": {"app.kubernetes.io/instance": "shop"},
                           "annotations": {"argocd.argoproj.io/tracking-id":
                                           "shop:rbac.authorization.k8s.io/ClusterRole:shop/shop-viewer"}},
              "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    # cluster-scoped: ArgoCD writes the app's destination namespace into the id
    gone_role = {**viewer, "metadata": {"name": "shop-admin", "annotations": {
        "argocd.argoproj.io/tracking-id": "shop:rbac.authorization.k8s.io/ClusterRole:shop/shop-admin"}}}
    return [web, settings, viewer, gone_role,
            tracked("label-only", label=True),
            tracked("annotation-only", annotation="shop:/ConfigMap:shop/annotation-only"),
            tracked("copied", annotation="shop:/ConfigMap:shop/annotation-only"),  # e.g. HNC's copy
            tracked("old-generated", label=True, annotation="shop:/ConfigMap:shop/old-generated",
                    annotations={"argocd.argoproj.io/compare-options": "IgnoreExtraneous"}),
            tracked("owned", label=True, annotation="shop:/ConfigMap:shop/owned",
                    ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "settings",
                                      "uid": "0b4e"}])]


@pytest.fixture
def shop(k8s_api: KubernetesEmulator, git_repo: Any) -> Path:
    k8s_api.add(*live_objects())
    git_repo.commit({"apps/shop/all.yaml": GIT}, "shop")
    return Path(git_repo.path)


def check(tmp_path: Path, repo: Path, kubeconfig: Path, method: str | None,
          name: str) -> tuple[int, dict[str, Any], str]:
    extra: list[str] = []
    if method is not None:
        (tmp_path / f"{name}.yaml").write_text(SETTINGS.replace("{method}", method))
        extra = ["--argocd-settings", str(tmp_path / f"{name}.yaml")]
    out = tmp_path / name
    result = CliRunner().invoke(main, ["check", "--repo", str(repo), "--path", "apps/shop", "-n", "shop",
                                       "--kubeconfig", str(kubeconfig), "--context", "emulator",
                                       "--out", str(out), "--format", "json", "-o", "none", *extra])
    [report] = out.rglob("report.json")
    return result.exit_code, json.loads(report.read_text()), result.stderr


def statuses(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["kind"], r["name"]): r["status"] for r in report["resources"]}


def test_without_settings_label_or_annotation_tracks_and_no_system_rules(
        shop: Path, kubeconfig: Path, tmp_path: Path) -> None:
    _, report, _ = check(tmp_path, shop, kubeconfig, None, "plain")
    got = statuses(report)
    assert got[("Deployment", "web")] == "drifted"
    assert got[("ConfigMap", "settings")] == "drifted"
    assert ("Lease", "shop-leader") in got, "compared without settings (the emulator does not serve it)"
    for name in ("label-only", "annotation-only", "copied"):
        assert got[("ConfigMap", name)] == "extra", name
    assert ("ConfigMap", "owned") not in got, "ownerReferences: never extra"


def test_annotation_tracking_and_argocd_cm_rules(shop: Path, kubeconfig: Path, tmp_path: Path) -> None:
    code, report, err = check(tmp_path, shop, kubeconfig, "annotation", "annotation")
    got = statuses(report)
    by_name = {(r["kind"], r["name"]): r for r in report["resources"]}
    web = by_name[("Deployment", "web")]
    # annotation tracking leaves Git's instance label alone, so the label ArgoCD's label tracking wrote
    # earlier differs (label tracking below sets it): the one difference left
    assert [d["path"] for d in web["differences"]] == ["/metadata/labels/app.kubernetes.io~1instance"]
    ignored = {i["path"]: i["rule"] for i in web["ignored"]}
    assert ignored["/spec/replicas"] == f"argocd-cm:{SPLIT}.apps_Deployment#0"
    # the split key replaced the block's apps/Deployment entry: the image is hidden by the manager alone
    assert ignored["/spec/template/spec/containers/0/image"].endswith("apps_Deployment#0")
    settings = by_name[("ConfigMap", "settings")]
    assert settings["status"] == "in-sync", settings
    assert {i["rule"] for i in settings["ignored"]} == {
        "argocd-cm:resource.customizations[ConfigMap]#0", f"argocd-cm:{SPLIT}.all#0"}
    in_force = {r["id"]: r["file"] for r in report["rules"]["in_force"]}
    assert in_force[f"argocd-cm:{SPLIT}.all#0"].startswith(f"argocd-cm key {SPLIT}.all (")
    assert ("Lease", "shop-leader") not in got, "core exclusion: dropped from desired state"
    assert any("coordination.k8s.io/Lease shop-leader is excluded" in w["message"]
               for w in report["warnings"]), report["warnings"]
    assert got[("ConfigMap", "annotation-only")] == "extra"
    assert got[("ClusterRole", "shop-admin")] == "extra", "cluster-scoped id with the destination namespace"
    assert ("ConfigMap", "label-only") not in got, "annotation tracking ignores the label"
    assert ("ConfigMap", "copied") not in got, "a copy whose id names another object"
    assert ("ConfigMap", "owned") not in got
    old = by_name[("ConfigMap", "old-generated")]
    assert old["status"] == "in-sync" and "IgnoreExtraneous" in old["reason"]
    assert code == 1 and "argocd settings:" in err


def test_label_tracking_sets_the_instance_label_as_argocd_writes_it(
        shop: Path, kubeconfig: Path, tmp_path: Path) -> None:
    _, report, _ = check(tmp_path, shop, kubeconfig, "label", "label")
    got = statuses(report)
    # Git's `app.kubernetes.io/instance: release-web` is what ArgoCD overwrites with the app name
    assert got[("Deployment", "web")] == "in-sync", report["resources"]
    assert got[("ConfigMap", "label-only")] == "extra"
    assert ("ConfigMap", "annotation-only") not in got, "label tracking ignores the annotation"
    assert ("ClusterRole", "shop-admin") not in got
