"""A HelmRelease's chart `valuesFiles` replace the chart's values.yaml as source-controller packages them:
a chart that is a path in this repository (its GitRepository only known as this repository because the
graph adopted the root's URL: no --repo-url) builds from the audited commit with valuesFiles relative to
the repository root, `ignoreMissingValuesFiles` skips a missing one, a missing one without it is an error
naming the HelmRelease; a repository chart's valuesFiles are files inside the chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from driftcheck.cli import main
from testing import flux_repo
from testing.chart_repo import chart_repo, make_chart, package

CHART = {
    "charts/local/Chart.yaml": "apiVersion: v2\nname: local\nversion: 0.1.0\n",
    "charts/local/values.yaml": "greeting: default\nonlyDefault: kept\nsize: small\n",
    "charts/local/values-prod.yaml": "greeting: prod\n",
    "charts/local/templates/cm.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n"
        "  greeting: {{ .Values.greeting | quote }}\n  onlyDefault: {{ .Values.onlyDefault | quote }}\n"
        "  size: {{ .Values.size | quote }}\n",
}
RELEASE = """\
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
  namespace: flux-system
spec:
  interval: 10m
  chart:
    spec:
      chart: ./charts/local
      sourceRef:
        kind: GitRepository
        name: flux-system
      valuesFiles: {files}
{extra}  values:
    size: inline
"""


def release(name: str, files: list[str], extra: str = "") -> str:
    return RELEASE.format(name=name, files=files, extra=extra)


def render(git_repo: Any, tmp_path: Path, releases: str, *more: str) -> tuple[Any, dict[str, Any]]:
    git_repo.commit({**flux_repo.FILES, **CHART, "infrastructure/releases/releases.yaml": releases},
                    "flux with a chart in this repository")
    out = tmp_path / "desired"
    result = CliRunner().invoke(main, ["render", "--repo", str(git_repo.path), "--flux",
                                       "clusters/production", "--out", str(out), "--cache-dir",
                                       str(tmp_path / "cache"), *more])
    objects = {}
    for path in sorted(out.rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") == "ConfigMap":
            objects[doc["metadata"]["name"]] = doc["data"]
    return result, objects


def test_values_files_replace_the_defaults_of_a_chart_in_this_repository(git_repo: Any,
                                                                        tmp_path: Path) -> None:
    releases = (release("prod-only", ["charts/local/values-prod.yaml"])
                + release("both", ["charts/local/values.yaml", "./charts/local/values-prod.yaml"])
                + release("tolerant", ["charts/local/values.yaml", "charts/local/absent.yaml"],
                          "      ignoreMissingValuesFiles: true\n")
                + release("values-only", ["values.yaml"]))  # just values.yaml: no change (root has none)
    result, objects = render(git_repo, tmp_path, releases)  # no --repo-url: the root's URL is adopted
    assert result.exit_code == 0, result.output
    assert objects["prod-only"] == {"greeting": "prod", "onlyDefault": None, "size": "inline"}  # replaced
    assert objects["both"] == {"greeting": "prod", "onlyDefault": "kept", "size": "inline"}  # merged
    assert objects["tolerant"] == {"greeting": "default", "onlyDefault": "kept", "size": "inline"}
    assert objects["values-only"] == {"greeting": "default", "onlyDefault": "kept", "size": "inline"}
    assert "taking the root's GitRepository URL" in result.output


def test_a_missing_values_file_is_an_error_naming_the_release(git_repo: Any, tmp_path: Path) -> None:
    releases = release("broken", ["charts/local/values.yaml", "charts/local/absent.yaml"]) + \
        release("fine", ["charts/local/values-prod.yaml"])
    result, objects = render(git_repo, tmp_path, releases)
    assert result.exit_code != 0
    assert "HelmRelease flux-system/broken: chart valuesFiles: no values file found at path " \
           "'/charts/local/absent.yaml' (reference 'charts/local/absent.yaml')" in result.output
    assert "broken" not in objects and objects["fine"]["greeting"] == "prod"


def test_values_files_of_a_repository_chart_are_files_of_the_chart(git_repo: Any, tmp_path: Path) -> None:
    with chart_repo(tmp_path / "charts") as repo:
        src = make_chart(tmp_path / "src", "web", "1.0.0", templates={"cm.yaml": CHART[
            "charts/local/templates/cm.yaml"]}, values=CHART["charts/local/values.yaml"])
        (src / "values-prod.yaml").write_text("greeting: prod\n")
        package(src, repo.directory)
        repo.index()
        releases = f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: flux-system
spec:
  url: {repo.url}
""" + release("remote", ["values.yaml", "values-prod.yaml"]).replace(
            "chart: ./charts/local", "chart: web").replace("kind: GitRepository\n        name: flux-system",
                                                          "kind: HelmRepository\n        name: charts")
        result, objects = render(git_repo, tmp_path, releases, "--repo-url", flux_repo.URL)
    assert result.exit_code == 0, result.output
    assert objects["remote"] == {"greeting": "prod", "onlyDefault": "kept", "size": "inline"}
