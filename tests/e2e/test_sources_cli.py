"""`driftcheck check` over every kind of ArgoCD source, through the real CLI against real parts on
loopback: an HTTP chart repository, an authenticated docker-registry (OCI, with and without `oci://`), a
wrapper chart with HTTP, OCI and file:// dependencies, a multi-source app with `$values`, an Application
of another Git repository (git daemon) audited `--at` a moment between its commits, a chart that tests
`.Capabilities` against the emulator's discovery (and a snapshot of it), and a PreSync hook."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from testing import planted
from testing.chart_repo import ChartRepo, chart_repo
from testing.k8s_emulator import DEFAULT_RESOURCES, ApiResource, KubernetesEmulator
from testing.loopback import serve_git
from testing.oci_registry import REGISTRY, Registry, oci_registry, package_chart, push_chart

pytestmark = pytest.mark.slow
MAIN_URL = "https://git.example.test/platform/main.git"
KUBE = "v1.29.7"  # not Helm's default, so the chart shows it came from discovery
CAPS_TEMPLATES = {
    "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caps\n"
               "data:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n",
    "sm.yaml": '{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}\n'
               "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: caps\n"
               "spec:\n  endpoints: [{port: http}]\n{{- end }}\n",
}
SERVICE_MONITOR = ApiResource("monitoring.coreos.com", ("v1",), "ServiceMonitor", "servicemonitors")


def application(name: str, namespace: str, source: dict[str, Any] | None = None,
                sources: list[dict[str, Any]] | None = None) -> str:
    destination = {"server": "https://kubernetes.default.svc", "namespace": namespace}
    spec: dict[str, Any] = {"project": "default", "destination": destination}
    spec.update({"source": source} if source else {"sources": sources})
    return yaml.safe_dump({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                           "metadata": {"name": name, "namespace": "argocd"}, "spec": spec}, sort_keys=False)


def cm(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": data}


def chart_dir(name: str, version: str, template: str, dependencies: list[dict[str, str]] | None = None
              ) -> dict[str, str]:
    chart: dict[str, Any] = {"apiVersion": "v2", "name": name, "version": version}
    if dependencies:
        chart["dependencies"] = dependencies
    return {f"charts/{name}/Chart.yaml": yaml.safe_dump(chart, sort_keys=False),
            f"charts/{name}/values.yaml": "{}\n", f"charts/{name}/templates/main.yaml": template}


def cm_template(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  from: git\n"


@dataclass
class World:
    main: Path
    charts: ChartRepo
    registry: Registry
    other_url: str
    creds: Path
    cache: Path
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for available, why in ((importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra"),
                           (Path(REGISTRY).exists(), "needs docker-registry (testing/prereqs.sh)")):
        if not available:
            (pytest.fail if os.environ.get("CI") else pytest.skip)(why)
    from tests.conftest import GitRepoBuilder

    tmp = tmp_path_factory.mktemp("sources")
    password = planted.secret("oci-password")
    with chart_repo(tmp / "http") as charts, oci_registry("robot", password) as registry:
        for version in ("1.0.0", "1.2.0", "2.0.0"):
            charts.add("web", version)
        charts.add("caps", "1.0.0", templates=CAPS_TEMPLATES)
        push_chart(package_chart(tmp / "oci", "common", "0.3.0"), f"{registry.url}/charts", registry)
        creds = planted.write_input(tmp / "repo-creds.yaml", yaml.safe_dump({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "registry", "namespace": "argocd",
                         "labels": {"argocd.argoproj.io/secret-type": "repository"}},
            "stringData": {"url": f"{registry.host}/charts", "type": "helm", "enableOCI": "true",
                           "username": "robot", "password": password}}))
        other = GitRepoBuilder(tmp / "other")
        other.commit({"manifests/cm.yaml": yaml.safe_dump(cm("other", "other", v="old"))}, "old",
                     date="2026-01-10T10:00:00+00:00")
        other.commit({"manifests/cm.yaml": yaml.safe_dump(cm("other", "other", v="new"))}, "new",
                     date="2026-01-20T10:00:00+00:00")
        other_url, daemon = serve_git(other.path, tmp / "served", "other.git")
        oci_dep = f"oci://{registry.host}/charts"
        main = GitRepoBuilder(tmp / "main")
        main.commit({
            **chart_dir("wrapper", "0.1.0", cm_template("wrapper"), [
                {"name": "web", "version": "1.0.0", "repository": charts.url},
                {"name": "common", "version": "0.3.0", "repository": oci_dep},
                {"name": "lib", "version": "1.x", "repository": "file://../lib"}]),
            **chart_dir("lib", "1.0.0", cm_template("lib")),
            **chart_dir("hooked", "0.1.0", cm_template("hooked") + "---\napiVersion: batch/v1\nkind: Job\n"
                        "metadata:\n  name: migrate\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n"
                        "spec:\n  template:\n    spec:\n      restartPolicy: Never\n"
                        "      containers: [{name: m, image: busybox}]\n"),
            "values/web.yaml": "greeting: from-git\n",
            "argocd/exact.yaml": application("exact", "exact", {"repoURL": charts.url, "chart": "web",
                                                                "targetRevision": "1.0.0"}),
            "argocd/range.yaml": application("range", "range", {"repoURL": charts.url, "chart": "web",
                                                                "targetRevision": "^1.0.0"}),
            "argocd/oci-bare.yaml": application("oci-bare", "ocibare", {
                "repoURL": f"{registry.host}/charts", "chart": "common", "targetRevision": "0.3.0"}),
            "argocd/oci-url.yaml": application("oci-url", "ociurl", {
                "repoURL": oci_dep, "chart": "common", "targetRevision": "~0.3"}),
            "argocd/wrapper.yaml": application("wrapper", "wrapper", {"repoURL": MAIN_URL,
                                                                      "path": "charts/wrapper"}),
            "argocd/multi.yaml": application("multi", "multi", sources=[
                {"repoURL": charts.url, "chart": "web", "targetRevision": "2.0.0",
                 "helm": {"valueFiles": ["$values/values/web.yaml"]}},
                {"repoURL": MAIN_URL, "targetRevision": "HEAD", "ref": "values"}]),
            "argocd/other.yaml": application("other", "other", {"repoURL": other_url, "path": "manifests",
                                                                "targetRevision": "main"}),
            "argocd/caps.yaml": application("caps", "caps", {"repoURL": charts.url, "chart": "caps",
                                                             "targetRevision": "1.0.0"}),
            "argocd/hooked.yaml": application("hooked", "hooked", {"repoURL": MAIN_URL,
                                                                   "path": "charts/hooked"}),
        }, "apps", date="2026-01-05T10:00:00+00:00")
        try:
            yield World(main.path, charts, registry, other_url, creds, tmp / "cache", tmp)
        finally:
            daemon.terminate()
            daemon.wait()


LIVE = [cm("web", "exact", version="1.0.0", greeting="hello"),
        cm("web", "range", version="1.2.0", greeting="hello"),
        cm("common", "ocibare", version="0.3.0"), cm("common", "ociurl", version="0.3.0"),
        cm("wrapper", "wrapper", **{"from": "git"}), cm("web", "wrapper", version="1.0.0", greeting="hello"),
        cm("common", "wrapper", version="0.3.0"), cm("lib", "wrapper", **{"from": "git"}),
        cm("web", "multi", version="2.0.0", greeting="from-git"), cm("other", "other", v="old"),
        cm("caps", "caps", kube=KUBE),
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
         "metadata": {"name": "caps", "namespace": "caps"}, "spec": {"endpoints": [{"port": "http"}]}},
        cm("hooked", "hooked", **{"from": "git"})]


def check(world: World, out: Path, *live: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = planted.run_cli(["check", "--repo", str(world.main), "--argocd-apps", "argocd/*.yaml",
                            "--repo-url", MAIN_URL, "--repo-creds", str(world.creds),
                            "--cache-dir", str(world.cache), "--at", "2026-01-15T00:00:00Z",
                            "--request-timeout", "10", "--out", str(out), "--format", "json", "-o", "none",
                            *live], world.tmp / "logs", timeout=300)
    reports = list(out.rglob("report.json"))
    assert reports, proc.stderr
    return proc, json.loads(reports[0].read_text())


@pytest.fixture(scope="module")
def api(world: World) -> Iterator[KubernetesEmulator]:
    with KubernetesEmulator(resources=(*DEFAULT_RESOURCES, SERVICE_MONITOR), git_version=KUBE) as served:
        served.add(*LIVE)
        served.write_kubeconfig(world.tmp / "kubeconfig")
        yield served


@pytest.fixture(scope="module")
def run(world: World, api: KubernetesEmulator) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    api.reset_log()
    return check(world, world.tmp / "out-api", "--kubeconfig", str(world.tmp / "kubeconfig"))


def verdicts(report: dict[str, Any], app: str) -> dict[str, str]:
    return {f"{r['kind']}/{r['namespace']}/{r['name']}": r["status"] for r in report["resources"]
            if r["app"] == app}


def test_every_source_kind_renders_and_is_in_sync(run: tuple[subprocess.CompletedProcess[str], dict[str, Any]]
                                                  ) -> None:
    proc, report = run
    assert report["errors"] == [], report["errors"]
    assert proc.returncode == 0, proc.stderr
    assert {a["name"]: a["status"] for a in report["apps"]} == {
        name: "in-sync" for name in ("exact", "range", "oci-bare", "oci-url", "wrapper", "multi", "other",
                                     "caps", "hooked")}


@pytest.mark.parametrize(("app", "expected"), [
    ("exact", {"ConfigMap/exact/web"}),
    ("range", {"ConfigMap/range/web"}),  # ^1.0.0 -> 1.2.0 (live says 1.2.0: a wrong pick would drift)
    ("oci-bare", {"ConfigMap/ocibare/common"}),  # host/path + enableOCI credential
    ("oci-url", {"ConfigMap/ociurl/common"}),
    ("wrapper", {"ConfigMap/wrapper/wrapper", "ConfigMap/wrapper/web", "ConfigMap/wrapper/common",
                 "ConfigMap/wrapper/lib"}),  # HTTP, OCI and file:// dependencies built
    ("multi", {"ConfigMap/multi/web"}),  # greeting from $values/values/web.yaml
    ("other", {"ConfigMap/other/other"}),  # --at picks the older commit of the other repository
    ("caps", {"ConfigMap/caps/caps", "ServiceMonitor/caps/caps"}),  # discovery: v1.29.7, monitoring served
    ("hooked", {"ConfigMap/hooked/hooked"}),  # the PreSync Job is a hook: not compared, not "missing"
])
def test_each_app_renders_what_argocd_would(run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
                                            app: str, expected: set[str]) -> None:
    assert verdicts(run[1], app) == dict.fromkeys(expected, "in-sync")


Run = tuple[subprocess.CompletedProcess[str], dict[str, Any]]


def test_capabilities_cost_one_discovery_request_more(run: Run, api: KubernetesEmulator) -> None:
    """/version and /apis are read once, shared with the live read; /api is the one request Helm adds."""
    paths = [r.path for r in api.requests]
    assert paths.count("/version") == 1 and paths.count("/apis") == 1 and paths.count("/api") == 1


def test_a_run_without_helm_reads_no_capabilities(world: World, api: KubernetesEmulator,
                                                  tmp_path: Path) -> None:
    api.reset_log()
    proc = planted.run_cli(["check", "--repo", str(world.main), "--path", "charts/lib/templates", "-n", "x",
                            "--kubeconfig", str(world.tmp / "kubeconfig"), "--out", str(tmp_path / "out"),
                            "--format", "json", "-o", "none"], world.tmp / "logs")
    assert "capabilities" not in proc.stderr
    assert "/api" not in [r.path for r in api.requests]


def test_capabilities_from_a_snapshot_header_and_unknown_without_one(
        world: World, api: KubernetesEmulator, tmp_path: Path) -> None:
    snapshot = tmp_path / "snap.yaml"
    proc = planted.run_cli(["snapshot", "--out", str(snapshot), "--kubeconfig", str(world.tmp / "kubeconfig"),
                            "--kinds", "configmaps,servicemonitors", "-n", "caps"], world.tmp / "logs")
    assert proc.returncode == 0, proc.stderr
    header = next(yaml.safe_load_all(snapshot.read_text()))
    assert header["kubernetesVersion"] == KUBE and "monitoring.coreos.com/v1" in header["apiVersions"]
    _, report = check(world, tmp_path / "from-snapshot", "--live-snapshot", str(snapshot))
    assert verdicts(report, "caps") == {"ConfigMap/caps/caps": "in-sync",
                                        "ServiceMonitor/caps/caps": "in-sync"}
    # kubectl output has no header: Helm's defaults (no monitoring.coreos.com, its own version) -> drift
    plain = tmp_path / "kubectl.json"
    plain.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": LIVE}))
    _, report = check(world, tmp_path / "from-kubectl", "--live-snapshot", str(plain))
    assert verdicts(report, "caps") == {"ConfigMap/caps/caps": "drifted"}
