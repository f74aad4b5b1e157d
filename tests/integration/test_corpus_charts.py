"""The corpus's Helm wrapper charts through the CLI, as ArgoCD's repo-server builds them:
kube-prometheus-stack 65.0.0 and sealed-secrets 2.16.2 from a loopback chart repository behind
--repo-mirror of their public URLs (charts built for the test at those versions, next to neighbouring
ones); every Application of argocd/ an app, falco the one that cannot render; --offline with an empty
cache names what is missing."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftcheck.live.snapshot import write_snapshot
from driftcheck.model import LiveState, Origin, Resource, ResourceKey
from driftcheck.report.json_report import schema_problems
from testing.chart_repo import ChartRepo, chart_repo
from testing.corpus_charts import BITNAMI_LABS, PROMETHEUS_COMMUNITY, publish_corpus_charts
from testing.livify import livify

pytestmark = pytest.mark.slow
APPS = {"backup-system", "blog-system", "falco", "istio-system", "kube-prometheus-stack", "monitoring",
        "root-app", "sealed-secrets"}
SYNCED_AT = datetime.fromisoformat("2026-02-07T12:00:00+09:00")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChartRepo]:
    if importlib.util.find_spec("helm_python") is None:
        pytest.skip("needs the [helm] extra (helm-python-sdk)")
    with chart_repo(tmp_path_factory.mktemp("charts")) as repo:
        publish_corpus_charts(repo)
        yield repo


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "driftcheck.cli", *args], capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc


def source_flags(corpus: Path, repo: ChartRepo | None, cache: Path, *, offline: bool = False) -> list[str]:
    flags = ["--repo", str(corpus), "--argocd-apps", "argocd/*.yaml", "--cache-dir", str(cache)]
    if repo is not None:  # both public repositories are reached through the one loopback repository
        flags += ["--repo-mirror", f"{PROMETHEUS_COMMUNITY}={repo.url}",
                  "--repo-mirror", f"{BITNAMI_LABS}={repo.url}"]
    return [*flags, "--offline"] if offline else flags


def objects_by_app(out: Path) -> dict[str, dict[tuple[str, str, str], dict[str, Any]]]:
    """app -> (kind, namespace, name) -> body, from a render directory."""
    manifest = json.loads((out / "MANIFEST.json").read_text())
    found: dict[str, dict[tuple[str, str, str], dict[str, Any]]] = {}
    for entry in manifest["objects"]:
        body = yaml.safe_load((out / entry["file"]).read_text())
        found.setdefault(entry["app"], {})[(entry["kind"], entry["namespace"], entry["name"])] = body
    return found


@pytest.fixture(scope="module")
def rendered(corpus_repo: Path, served: ChartRepo, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[subprocess.CompletedProcess[str], Path, int]:
    """One online render of the corpus (Secret values included, to build the synced cluster from)."""
    tmp = tmp_path_factory.mktemp("render")
    before = len(served.requests)
    proc = cli("render", *source_flags(corpus_repo, served, tmp / "cache"), "--out", str(tmp / "out"),
               "--include-secret-values")
    return proc, tmp, before


def test_every_application_is_an_app_and_both_charts_render_at_their_pins(
        rendered: tuple[subprocess.CompletedProcess[str], Path, int], served: ChartRepo) -> None:
    proc, tmp, before = rendered
    manifest = json.loads((tmp / "out" / "MANIFEST.json").read_text())
    apps = {a["name"]: a for a in manifest["apps"]}
    assert set(apps) == APPS and manifest["source"]["skipped_apps"] == []
    assert {n for n, a in apps.items() if a["objects"]} == APPS - {"falco"}
    assert [e["message"] for e in manifest["errors"] if e["app"] == "falco"] == [
        "path falco does not exist at commit " + manifest["source"]["commit"][:12]]
    assert {e["app"] for e in manifest["errors"] if e.get("severity") != "warning"} == {"falco"}
    assert proc.returncode == 2  # falco's error; everything else was written

    objects = objects_by_app(tmp / "out")
    kps, sealed = objects["kube-prometheus-stack"], objects["sealed-secrets"]
    operator = kps[("Deployment", "monitoring", "kube-prometheus-stack-operator")]
    assert operator["metadata"]["labels"]["helm.sh/chart"] == "kube-prometheus-stack-65.0.0"  # not 65.1.0
    assert "--web.enable-tls=false" in operator["spec"]["template"]["spec"]["containers"][0]["args"]
    grafana = kps[("Deployment", "monitoring", "kube-prometheus-stack-grafana")]
    assert grafana["metadata"]["labels"]["helm.sh/chart"] == "grafana-8.5.2"  # the vendored subchart
    prometheus = kps[("Prometheus", "monitoring", "kube-prometheus-stack-prometheus")]
    assert prometheus["spec"]["retention"] == "7d"  # the wrapper's values reach the dependency
    assert prometheus["spec"]["serviceMonitorSelector"] == {"matchLabels": {"prometheus": "kube-prometheus"}}
    assert {name for kind, _, name in kps if kind == "CustomResourceDefinition"} == {
        "servicemonitors.monitoring.coreos.com", "prometheuses.monitoring.coreos.com",
        "prometheusrules.monitoring.coreos.com", "alertmanagers.monitoring.coreos.com"}  # skipCrds: false
    kinds = {kind for kind, _, _ in kps}
    assert "DaemonSet" not in kinds  # nodeExporter.enabled: false
    assert "Job" not in kinds  # admissionWebhooks.enabled: false
    assert "ServiceMonitor" not in kinds  # no cluster told Helm it serves monitoring.coreos.com/v1
    assert "Pod" not in kinds  # Grafana's test Pod is a hook: listed, not an object
    assert len(kps) == 14

    deployment = sealed[("Deployment", "kube-system", "sealed-secrets-controller")]
    assert deployment["metadata"]["labels"]["helm.sh/chart"] == "sealed-secrets-2.16.2"  # not 2.17.0
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["--update-status", "--key-renew-period=720h"]
    assert container["resources"]["limits"] == {"cpu": "200m", "memory": "256Mi"}
    assert ("ClusterRole", "", "secrets-unsealer") in sealed
    assert ("ServiceAccount", "kube-system", "sealed-secrets-controller") in sealed
    assert not any(kind == "ServiceMonitor" for kind, _, _ in sealed)  # serviceMonitor.enabled: false

    assert apps["kube-prometheus-stack"]["resolved"] == [
        "dependency kube-prometheus-stack 65.0.0 resolved to 65.0.0"]
    assert apps["sealed-secrets"]["resolved"] == ["dependency sealed-secrets 2.16.2 resolved to 2.16.2"]
    assert [(h["resource"], h["types"]) for h in apps["kube-prometheus-stack"]["hooks"]] == [
        ("Pod/kube-prometheus-stack-grafana-test", "none (helm.sh/hook: test)")]
    assert apps["sealed-secrets"]["hooks"] == []
    assert apps["kube-prometheus-stack"]["sources"] == [{
        "type": "git", "repository": "", "path": "apps/kube-prometheus-stack", "requested": "HEAD",
        "resolved": manifest["source"]["commit"], "digest": ""}]
    archives = sorted(r.path for r in served.requests[before:] if r.path.endswith(".tgz"))
    assert archives == ["/kube-prometheus-stack-65.0.0.tgz", "/sealed-secrets-2.16.2.tgz"]


def synced_snapshot(out: Path, dest: Path, edit: Callable[[dict[str, Any]], None],
                    api_versions: tuple[str, ...] = ()) -> Path:
    """The cluster ArgoCD synced from the render in out, with edit applied to each live object; its
    header lists api_versions as discovery served them (Helm's .Capabilities.APIVersions)."""
    resources = []
    for app, objects in objects_by_app(out).items():
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for (_, namespace, _), body in objects.items():  # "" for what the render found cluster-scoped
            by_namespace.setdefault(namespace, []).append(body)
        live = [o for ns, bodies in by_namespace.items()
                for o in livify(bodies, app=app, namespace=ns, applied_at=SYNCED_AT)]
        for body in live:
            edit(body)
            resources.append(Resource(ResourceKey.of(body), body["apiVersion"], body, Origin("snapshot")))
    info = {"context": "corpus", "server": "https://k8s:6443", "kubernetes_version": "v1.29.3",
            **({"api_versions": api_versions} if api_versions else {})}
    write_snapshot(LiveState(resources=resources, info=info), dest, include_secret_values=True)
    return dest


def test_check_compares_the_chart_objects_and_reports_versions_and_hooks(
        corpus_repo: Path, served: ChartRepo, rendered: tuple[subprocess.CompletedProcess[str], Path, int],
        tmp_path: Path) -> None:
    _, tmp, _ = rendered

    def hotfix(body: dict[str, Any]) -> None:  # someone changed Grafana's image by hand
        if body["kind"] == "Deployment" and body["metadata"]["name"] == "kube-prometheus-stack-grafana":
            body["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/grafana/grafana:11.3.0"

    snap = synced_snapshot(tmp / "out", tmp_path / "live.yaml", hotfix)
    proc = cli("check", *source_flags(corpus_repo, served, tmp / "cache"), "--live-snapshot", str(snap),
               "--out", str(tmp_path / "reports"), "--format", "json,md")
    report = json.loads(next((tmp_path / "reports").rglob("report.json")).read_text())
    assert schema_problems(report) == []
    statuses = {(r["app"], r["kind"], r["name"]): r["status"] for r in report["resources"]}
    charts = {k: s for k, s in statuses.items() if k[0] in ("kube-prometheus-stack", "sealed-secrets")}
    assert {k: s for k, s in charts.items() if s != "in-sync"} == {
        ("kube-prometheus-stack", "Deployment", "kube-prometheus-stack-grafana"): "drifted"}
    assert len(charts) == 14 + 5
    drift = next(r for r in report["resources"] if r["status"] == "drifted")
    assert [d["path"] for d in drift["differences"]] == ["/spec/template/spec/containers/0/image"]
    rows = {a["name"]: a for a in report["apps"]}
    assert rows["sealed-secrets"]["status"] == "in-sync"
    assert rows["kube-prometheus-stack"]["status"] == "drifted"
    assert rows["falco"]["status"] == "error"
    assert rows["sealed-secrets"]["resolved"] == ["dependency sealed-secrets 2.16.2 resolved to 2.16.2"]
    assert [h["resource"] for h in rows["kube-prometheus-stack"]["hooks"]] == [
        "Pod/kube-prometheus-stack-grafana-test"]
    markdown = next((tmp_path / "reports").rglob("report.md")).read_text()
    assert "dependency kube-prometheus-stack 65.0.0 resolved to 65.0.0" in markdown
    assert proc.returncode == 2  # drift and falco's error


def test_offline_with_an_empty_cache_names_each_chart_and_checks_the_rest(
        corpus_repo: Path, rendered: tuple[subprocess.CompletedProcess[str], Path, int],
        tmp_path: Path) -> None:
    _, tmp, _ = rendered
    snap = synced_snapshot(tmp / "out", tmp_path / "live.yaml", lambda _body: None)
    proc = cli("check", *source_flags(corpus_repo, None, tmp_path / "empty-cache", offline=True),
               "--live-snapshot", str(snap), "--out", str(tmp_path / "reports"), "--format", "json")
    report = json.loads(next((tmp_path / "reports").rglob("report.json")).read_text())
    assert schema_problems(report) == []
    errors = {e["app"]: e["message"] for e in report["errors"]}
    assert set(errors) == {"falco", "kube-prometheus-stack", "sealed-secrets"}
    for app, version, url in (("kube-prometheus-stack", "65.0.0", PROMETHEUS_COMMUNITY),
                              ("sealed-secrets", "2.16.2", BITNAMI_LABS)):
        assert f"chart {app} version {version} from {url}" in errors[app] and "--offline" in errors[app]
    rows = {a["name"]: a for a in report["apps"]}
    assert {n for n, a in rows.items() if a["status"] == "error"} == {"falco", "kube-prometheus-stack",
                                                                       "sealed-secrets"}
    assert rows["blog-system"]["status"] == "in-sync" and rows["blog-system"]["counts"]["in-sync"] == 40
    assert rows["monitoring"]["status"] == "in-sync"
    assert rows["sealed-secrets"]["resolved"] == [] and rows["sealed-secrets"]["hooks"] == []
    assert proc.returncode == 2


def test_a_cluster_serving_servicemonitors_gets_the_charts_servicemonitor(
        corpus_repo: Path, served: ChartRepo, rendered: tuple[subprocess.CompletedProcess[str], Path, int],
        tmp_path: Path) -> None:
    """The chart tests .Capabilities.APIVersions.Has: against a cluster whose discovery serves
    monitoring.coreos.com/v1 ServiceMonitor, as ArgoCD passes it, the operator's ServiceMonitor is desired
    (and, never applied there, missing)."""
    _, tmp, _ = rendered
    served_versions = ("apps/v1", "monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor", "v1")
    snap = synced_snapshot(tmp / "out", tmp_path / "live.yaml", lambda _body: None, served_versions)
    proc = cli("check", *source_flags(corpus_repo, served, tmp / "cache"), "--app", "kube-prometheus-stack",
               "--live-snapshot", str(snap), "--out", str(tmp_path / "reports"), "--format", "json")
    report = json.loads(next((tmp_path / "reports").rglob("report.json")).read_text())
    statuses = {(r["kind"], r["name"]): r["status"] for r in report["resources"]}
    assert {k: s for k, s in statuses.items() if s != "in-sync"} == {
        ("ServiceMonitor", "kube-prometheus-stack-operator"): "missing"}
    assert len(statuses) == 15 and report["errors"] == []
    assert proc.returncode == 1
