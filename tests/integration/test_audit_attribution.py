"""`check --audit-log` names who made each drifted field's change, on a day the emulator logged.

The day, on the emulator's scripted clock (2026-11-20, UTC): alice runs `kubectl edit` on the Deployment's
image; the HPA controller's service account scales it through the `scale` subresource (kubernetes
client, kube-controller-manager's user agent); bob tries a server-side dry run, then patches the
ConfigMap with `--field-manager=argocd-controller`; a proxy service account patches the Secret
impersonating dave. An annotation changed the day before the log starts. The log is written at the
RequestResponse level, so it holds the Secret's new value: the reports must not.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from driftcheck.report.json_report import schema_problems
from testing import planted
from testing.k8s_emulator import KubernetesEmulator

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")

DAY = "2026-11-20"
GIT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {team: shop}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.25"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shop-config}
data: {mode: normal}
---
apiVersion: v1
kind: Secret
metadata: {name: shop-db}
type: Opaque
data: {password: c2VjcmV0LWluLWdpdA==}
"""
USERS = {
    "alice-token": {"username": "alice@example.com", "groups": ["devs", "system:authenticated"]},
    "hpa-token": {"username": "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
                  "groups": ["system:serviceaccounts", "system:authenticated"]},
    "bob-token": {"username": "bob@example.com", "groups": ["contractors", "system:authenticated"]},
    "proxy-token": {"username": "system:serviceaccount:teleport:proxy",
                    "groups": ["system:serviceaccounts", "system:authenticated"]},
}
KCM_AGENT = ("kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/4cb5f07/"
             "system:serviceaccount:kube-system:horizontal-pod-autoscaler")


def _argocd(fields: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"manager": "argocd-controller", "operation": "Apply", "apiVersion": "v1",
             "time": "2026-11-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fields}]


def live_objects() -> list[dict[str, Any]]:
    """The objects as Argo CD applied them on 11-01, plus the annotation someone changed on 11-19."""
    deployment_fields = {"f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:name": {}, "f:image": {}}}}}}}
    annotated = {"manager": "kubectl-annotate", "operation": "Update", "apiVersion": "apps/v1",
                 "time": "2026-11-19T08:00:00Z", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:annotations": {"f:team": {}}}}}
    meta = {"namespace": "shop", "creationTimestamp": "2026-11-01T00:00:00Z"}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {**meta, "name": "web", "annotations": {"team": "platform"},
                      "managedFields": [*_argocd(deployment_fields), annotated]},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {**meta, "name": "shop-config", "managedFields": _argocd({"f:data": {"f:mode": {}}})},
         "data": {"mode": "normal"}},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {**meta, "name": "shop-db", "managedFields": _argocd({"f:data": {"f:password": {}}})},
         "data": {"password": "c2VjcmV0LWluLWdpdA=="}},
    ]


class Clock:
    """The emulator's time: set to a moment of the day, then a millisecond more at every reading."""

    def __init__(self) -> None:
        self.base, self.ticks = 0.0, itertools.count()

    def at(self, hhmmss: str) -> None:
        self.base = datetime.fromisoformat(f"{DAY}T{hhmmss}+00:00").timestamp()

    def __call__(self) -> float:
        return self.base + next(self.ticks) * 0.001


@pytest.fixture
def day(tmp_path: Path) -> Iterator[tuple[KubernetesEmulator, Path, str]]:
    clock = Clock()
    log = tmp_path / "audit" / "kube-apiserver-audit.log"
    log.parent.mkdir()
    planted.mark_input(log)  # it holds the Secret's value, as a RequestResponse log does
    with KubernetesEmulator(token="driftcheck-token", tls=True, audit_log=log, audit_level="RequestResponse",
                            users=USERS, clock=clock) as api:
        api.add(*live_objects())
        password = planted.secret("db-password")
        scripted_day(api, clock, tmp_path, password)
        yield api, log, password


def kubectl(api: KubernetesEmulator, tmp_path: Path, token: str, *args: str,
            editor: Path | None = None) -> None:
    config = api.write_kubeconfig(tmp_path / f"{token}.kubeconfig", token=token, namespace="shop")
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(tmp_path)}
    if editor is not None:
        env["KUBE_EDITOR"] = str(editor)
    done = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def scripted_day(api: KubernetesEmulator, clock: Clock, tmp_path: Path, password: str) -> None:
    clock.at("09:14:03")  # alice edits the image by hand
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/nginx:1.25/nginx:1.27-debug/' \"$1\"\n")
    editor.chmod(0o755)
    kubectl(api, tmp_path, "alice-token", "edit", "deployment/web", "--validate=false", editor=editor)

    clock.at("11:02:40")  # the HPA scales through /scale with the controller's user agent
    config = kubernetes.client.Configuration()
    hpa_config = api.write_kubeconfig(tmp_path / "hpa.kubeconfig", token="hpa-token")
    kubernetes.config.load_kube_config(str(hpa_config), client_configuration=config)
    with kubernetes.client.ApiClient(config) as client:
        client.user_agent = KCM_AGENT
        kubernetes.client.AppsV1Api(client).patch_namespaced_deployment_scale(
            "web", "shop", {"spec": {"replicas": 5}})

    clock.at("15:39:10")  # bob's dry run changes nothing and must not be taken for the change
    kubectl(api, tmp_path, "bob-token", "patch", "configmap", "shop-config", "--type=merge",
            "-p", '{"data":{"mode":"dry"}}', "--dry-run=server", "--field-manager=argocd-controller")
    clock.at("15:40:55")  # ... then he patches under Argo CD's manager name
    kubectl(api, tmp_path, "bob-token", "patch", "configmap", "shop-config", "--type=merge",
            "-p", '{"data":{"mode":"maintenance"}}', "--field-manager=argocd-controller")

    clock.at("17:05:00")  # the access proxy rotates the password acting as dave
    encoded = base64.b64encode(password.encode()).decode()
    kubectl(api, tmp_path, "proxy-token", "--as=dave@example.com", "--as-group=dba", "patch", "secret",
            "shop-db", "--type=merge", "-p", json.dumps({"data": {"password": encoded}}))


def check(api: KubernetesEmulator, tmp_path: Path, git_repo: Any, *extra: str) -> tuple[dict[str, Any], str]:
    git_repo.commit({"apps/shop/all.yaml": GIT}, "shop")
    config = api.write_kubeconfig(tmp_path / "driftcheck.kubeconfig", token="driftcheck-token")
    out = tmp_path / "reports"
    done = planted.run_cli(["check", "--repo", str(git_repo.path), "--path", "apps/shop", "-n", "shop",
                            "--kubeconfig", str(config), "--out", str(out), "--format", "json,html,md",
                            *extra], tmp_path / "logs")
    assert done.returncode == 1, done.stderr  # drift, no errors
    [report] = sorted(out.rglob("report.json"))
    return json.loads(report.read_text()), done.stdout


def fields(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["kind"], d["path"]): d["changed_by"] for r in doc["resources"] for d in r["differences"]}


def test_every_drifted_field_is_attributed_to_who_made_it(day: tuple[KubernetesEmulator, Path, str],
                                                          tmp_path: Path, git_repo: Any) -> None:
    api, log, password = day
    doc, stdout = check(api, tmp_path, git_repo, "--audit-log", str(log.parent))
    got = fields(doc)
    assert set(got) == {("Deployment", "/spec/template/spec/containers/0/image"),
                        ("Deployment", "/spec/replicas"), ("Deployment", "/metadata/annotations/team"),
                        ("ConfigMap", "/data/mode"), ("Secret", "/data/password")}

    edit = got[("Deployment", "/spec/template/spec/containers/0/image")]
    assert (edit["manager"], edit["identity"]["status"]) == ("kubectl-edit", "attributed")
    assert edit["identity"]["user"] == "alice@example.com" and edit["identity"]["groups"][0] == "devs"
    assert edit["identity"]["user_agent"].startswith("kubectl/")
    assert edit["identity"]["source_ips"] == ["127.0.0.1"]
    assert edit["identity"]["time"].startswith(f"{DAY}T09:14:03") and edit["identity"]["verb"] == "patch"

    scale = got[("Deployment", "/spec/replicas")]
    assert (scale["manager"], scale["subresource"]) == ("kube-controller-manager", "scale")
    assert scale["identity"]["user"] == "system:serviceaccount:kube-system:horizontal-pod-autoscaler"
    assert not scale["identity"]["finding"]

    claimed = got[("ConfigMap", "/data/mode")]
    assert claimed["manager"] == "argocd-controller" and claimed["identity"]["user"] == "bob@example.com"
    assert claimed["identity"]["finding"] == "gitops-impersonation"
    assert claimed["identity"]["time"].startswith(f"{DAY}T15:40:55"), "the dry run is not the change"

    rotated = got[("Secret", "/data/password")]["identity"]
    assert (rotated["user"], rotated["impersonated_user"]) == ("system:serviceaccount:teleport:proxy",
                                                               "dave@example.com")
    assert rotated["impersonated_groups"] == ["dba"]

    before = got[("Deployment", "/metadata/annotations/team")]["identity"]
    assert before["status"] == "no-data" and "does not cover 2026-11-19T08:00:00Z" in before["reason"]

    assert schema_problems(doc) == [], "the grown contract is in the schema"
    audit = doc["audit_log"]
    assert audit["fields"] == {"attributed": 4, "ambiguous": 0, "no-event": 0, "no-data": 1}
    assert [(f["resource"], f["users"]) for f in audit["findings"]] == [("ConfigMap/shop/shop-config",
                                                                         ["bob@example.com"])]
    assert "FINDING gitops-impersonation: ConfigMap/shop/shop-config /data/mode" in stdout

    html = next((tmp_path / "reports").rglob("report.html")).read_text()
    assert "1 change under a GitOps manager's name by someone else" in html
    for who in ("alice@example.com", "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
                "bob@example.com", "dave@example.com", "no audit event: the audit log does not cover"):
        assert who in html, who
    markdown = next((tmp_path / "reports").rglob("report.md")).read_text()
    assert "**GitOps impersonation**" in markdown and "alice@example.com" in markdown

    encoded = base64.b64encode(password.encode()).decode()
    assert encoded in log.read_text(), "the RequestResponse log holds the new value"
    reports = "".join(p.read_text() for p in (tmp_path / "reports").rglob("*") if p.is_file())
    assert password not in reports and encoded not in reports


def test_the_gitops_identity_is_configurable(day: tuple[KubernetesEmulator, Path, str], tmp_path: Path,
                                             git_repo: Any) -> None:
    """Naming bob's account as the GitOps identity clears his finding and makes every controller change
    that is not his one instead: the finding follows the flag, not a hard-coded name."""
    api, log, _ = day
    doc, _ = check(api, tmp_path, git_repo, "--audit-log", str(log), "--gitops-identity", "bob@example.com")
    assert doc["audit_log"]["gitops_identities"] == ["bob@example.com"]
    assert doc["audit_log"]["findings"] == []
    assert fields(doc)[("ConfigMap", "/data/mode")]["identity"]["finding"] == ""
