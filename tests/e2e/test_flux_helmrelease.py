"""HelmReleases of a Flux repository rendered as helm-controller renders them: a chart from the loopback
chart repository (valuesFrom a ConfigMap in Git, one with a targetPath, inline values on top, a
postRenderers patch and image, the origin labels, the release name `[targetNamespace-]name`, a test hook
listed, not compared) and one from the OCI registry (chartRef to an OCIRepository); `apps --flux` lists
them; against the emulator a `kubectl edit` is drift while a field under driftDetection.ignore is not;
bad input (a version that does not exist, a missing HelmRepository, helm.toolkit.fluxcd.io/v2beta1, a
missing ConfigMap) is an error naming the HelmRelease and its file, and the rest is checked."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from driftcheck.cli import main
from testing import flux_repo
from testing.chart_repo import ChartRepo, chart_repo
from testing.oci_registry import Registry, oci_registry, package_chart, push_chart

TEMPLATES = {
    "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\n"
               "data:\n  greeting: {{ .Values.greeting | quote }}\n"
               "  size: {{ .Values.config.size | quote }}\n"
               "  color: {{ .Values.color | quote }}\n  scratch: \"chart\"\n",
    "deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
                   "spec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels: {app: web}\n"
                   "  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n"
                   "        - name: web\n          image: nginx:1.25\n",
    "test.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-test\n  annotations:\n"
                 "    helm.sh/hook: test\nspec:\n  containers: [{name: t, image: busybox}]\n",
}
VALUES = "greeting: hello\nreplicas: 1\ncolor: blue\nconfig:\n  size: small\n"

RELEASES = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: flux-system
spec:
  url: {repo}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: demo-oci
  namespace: flux-system
spec:
  url: {registry}/charts/ocidemo
  ref:
    semver: ">=1.0.0"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-values
  namespace: flux-system
data:
  values.yaml: |
    greeting: from-configmap
    replicas: 2
  size: large
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: flux-system
spec:
  interval: 10m
  targetNamespace: podinfo
  chart:
    spec:
      chart: web
      version: "^1.0"
      sourceRef:
        kind: HelmRepository
        name: charts
  valuesFrom:
    - kind: ConfigMap
      name: web-values
    - kind: ConfigMap
      name: web-values
      valuesKey: size
      targetPath: config.size
  values:
    replicas: 3
  postRenderers:
    - kustomize:
        images:
          - name: nginx
            newTag: "1.27"
        patches:
          - target:
              kind: ConfigMap
            patch: |
              - op: add
                path: /metadata/annotations
                value: {{patched: "yes"}}
  driftDetection:
    mode: enabled
    ignore:
      - paths: ["/data/scratch"]
        target:
          kind: Config.*
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: ocidemo
  namespace: flux-system
spec:
  interval: 10m
  chartRef:
    kind: OCIRepository
    name: demo-oci
"""


@pytest.fixture
def servers(tmp_path: Path, require: Callable[[bool, str], None]) -> Iterator[tuple[ChartRepo, Registry]]:
    require(Path("/usr/bin/docker-registry").exists(), "docker-registry (testing/prereqs.sh)")
    with chart_repo(tmp_path / "charts") as repo, oci_registry() as registry:
        repo.add("web", "1.0.0", templates=TEMPLATES, values=VALUES)
        repo.add("web", "1.2.0", templates=TEMPLATES, values=VALUES)
        repo.add("web", "2.0.0", templates=TEMPLATES, values=VALUES)
        push_chart(package_chart(tmp_path / "oci", "ocidemo", "1.1.0"), f"{registry.url}/charts", registry)
        yield repo, registry


def write_repo(git_repo: Any, servers: tuple[ChartRepo, Registry], releases: str = RELEASES,
               extra: dict[str, str] | None = None) -> None:
    repo, registry = servers
    text = releases.replace("{repo}", repo.url).replace("{registry}", registry.url) \
        .replace("{{", "{").replace("}}", "}")
    git_repo.commit({**flux_repo.FILES, "infrastructure/releases/releases.yaml": text, **(extra or {})},
                    "flux with HelmReleases")


def cli(*args: str, tmp_path: Path) -> Any:
    return CliRunner().invoke(main, [*args, "--flux", "clusters/production", "--repo-url", flux_repo.URL,
                                     "--cache-dir", str(tmp_path / "cache")])


def rendered(git_repo: Any, tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The render's objects by kind and name, each with the namespace of the folder it was written to."""
    out = tmp_path / "desired"
    result = cli("render", "--repo", str(git_repo.path), "--out", str(out), tmp_path=tmp_path)
    assert result.exit_code == 0, result.output
    objects = {}
    for path in sorted(out.rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if isinstance(doc, dict) and "kind" in doc:
            if path.parent.name != "_cluster":
                doc["metadata"].setdefault("namespace", path.parent.name)
            objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def test_helm_releases_render_as_helm_controller_renders_them(git_repo: Any, servers: Any,
                                                             tmp_path: Path) -> None:
    write_repo(git_repo, servers)
    objects = rendered(git_repo, tmp_path)
    settings = objects[("ConfigMap", "podinfo-web-settings")]  # release name: targetNamespace-name
    assert settings["metadata"]["namespace"] == "podinfo"
    assert settings["data"]["greeting"] == "from-configmap"  # valuesFrom over the chart's defaults
    assert settings["data"]["size"] == "large"  # targetPath
    assert settings["data"]["color"] == "blue"
    assert settings["metadata"]["annotations"] == {"patched": "yes"}  # postRenderers patch
    assert settings["metadata"]["labels"] == {"helm.toolkit.fluxcd.io/name": "web",
                                              "helm.toolkit.fluxcd.io/namespace": "flux-system"}
    deployment = objects[("Deployment", "podinfo-web")]
    assert deployment["spec"]["replicas"] == 3  # inline values on top of valuesFrom
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"  # images
    assert ("Pod", "podinfo-web-test") not in objects  # a test hook: listed, not desired
    oci = objects[("ConfigMap", "ocidemo")]
    assert oci["data"]["version"] == "1.1.0"
    assert oci["metadata"]["namespace"] == "flux-system"


def test_apps_lists_the_helm_releases(git_repo: Any, servers: Any, tmp_path: Path) -> None:
    write_repo(git_repo, servers)
    result = cli("apps", "--repo", str(git_repo.path), "-o", "json", tmp_path=tmp_path)
    assert result.exit_code == 0, result.output
    apps = {a["name"]: a for a in json.loads(result.output[result.output.index("{"):])["apps"]}
    web = apps["helmrelease/flux-system/web"]
    assert web["declared"] == \
        "infrastructure/releases/releases.yaml:30 (rendered by flux-system/infrastructure)"
    assert web["sources"] == [{"repo": servers[0].url, "chart": "web", "version": "^1.0"}]
    assert web["destination"]["namespace"] == "podinfo"
    assert apps["helmrelease/flux-system/ocidemo"]["sources"] == [
        {"repo": f"{servers[1].url}/charts", "chart": "ocidemo", "version": ">=1.0.0"}]


def live_copy(body: dict[str, Any], manager: str) -> dict[str, Any]:
    live = copy.deepcopy(body)
    live["metadata"]["managedFields"] = [{"manager": manager, "operation": "Apply",
                                          "apiVersion": body["apiVersion"], "fieldsType": "FieldsV1",
                                          "fieldsV1": {"f:metadata": {"f:labels": {}}}}]
    return live


def test_an_edit_is_drift_and_an_ignored_field_is_not(git_repo: Any, servers: Any, tmp_path: Path) -> None:
    write_repo(git_repo, servers)
    desired = list(rendered(git_repo, tmp_path).values())
    helm = {"helm.toolkit.fluxcd.io/name"}
    live = [live_copy(o, "helm-controller" if helm & set(o["metadata"].get("labels") or {})
                      else "kustomize-controller") for o in desired]
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in live}
    by_name[("ConfigMap", "podinfo-web-settings")]["data"]["scratch"] = "edited"  # driftDetection.ignore
    edited = by_name[("Deployment", "podinfo-web")]
    edited["spec"]["replicas"] = 7  # kubectl edit
    edited["metadata"]["managedFields"].append({"manager": "kubectl-edit", "operation": "Update",
                                                "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
                                                "fieldsV1": {"f:spec": {"f:replicas": {}}}})
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, live)
    results = {(r["kind"], r["name"]): r for r in report["resources"]}
    drifted = sorted(k for k, r in results.items() if r["status"] == "drifted")
    assert drifted == [("Deployment", "podinfo-web")], results
    assert [d["path"] for d in results[("Deployment", "podinfo-web")]["differences"]] == ["/spec/replicas"]
    settings = results[("ConfigMap", "podinfo-web-settings")]
    assert settings["status"] == "in-sync" and settings["app"] == "helmrelease/flux-system/web"
    assert [i["path"] for i in settings["ignored"]] == ["/data/scratch"]
    assert {r["status"] for k, r in results.items() if k not in drifted} == {"in-sync"}
    assert not report["errors"], report["errors"]
    assert code == 1


BAD = {
    "version": ("version: \"^1.0\"", "version: \"^9.0\"",
                "no version matches (the repository has 2.0.0, 1.2.0, 1.0.0)"),
    "repository": ("        name: charts\n  valuesFrom", "        name: nowhere\n  valuesFrom",
                   "spec.chart.spec.sourceRef HelmRepository flux-system/nowhere does not exist"),
    "values": ("      name: web-values\n    - kind", "      name: absent-values\n    - kind",
               "ConfigMap flux-system/absent-values does not exist in Git or in context emulator"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_an_error_naming_the_release_and_the_rest_is_checked(
        git_repo: Any, servers: Any, tmp_path: Path, case: str) -> None:
    old, new, message = BAD[case]
    assert old in RELEASES
    write_repo(git_repo, servers, RELEASES.replace(old, new, 1))
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, [])
    errors = [e for e in report["errors"] if e["app"] == "helmrelease/flux-system/web"]
    assert len(errors) == 1, report["errors"]
    assert message in errors[0]["message"] and "HelmRelease flux-system/web" in errors[0]["message"]
    assert "infrastructure/releases/releases.yaml" in errors[0]["message"] + errors[0]["file"]
    missing = {r["name"] for r in report["resources"] if r["status"] == "missing"}
    assert {"ocidemo", "podinfo"} <= missing  # the other release and the Kustomizations were checked
    assert code == 2


def test_a_removed_api_version_is_an_error_saying_so(git_repo: Any, servers: Any, tmp_path: Path) -> None:
    write_repo(git_repo, servers, RELEASES.replace("helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
                                                   "metadata:\n  name: web",
                                                   "helm.toolkit.fluxcd.io/v2beta1\nkind: HelmRelease\n"
                                                   "metadata:\n  name: web"))
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, [])
    errors = [e for e in report["errors"] if "v2beta1" in e["message"]]
    assert len(errors) == 1, report["errors"]
    assert "removed in helm-controller 1.4" in errors[0]["message"]
    assert errors[0]["file"] == "infrastructure/releases/releases.yaml"
    assert "ocidemo" in {r["name"] for r in report["resources"]}
    assert code == 2
