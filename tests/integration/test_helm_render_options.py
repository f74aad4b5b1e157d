"""Every spec.source.helm option against a chart that echoes what it receives (.Values, .Release,
.Capabilities, .Files), rendered by the real Helm renderer from a real Git repository; a values file over
HTTP from a loopback server; hooks listed, not compared."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from driftcheck.apps.argocd import app_source
from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.tree import CommitTree
from driftcheck.model import App, Destination
from driftcheck.render import Rendered, helm, render_app
from driftcheck.render.renderer import Capabilities, Target
from tests.conftest import GitRepoBuilder

HELM = shutil.which("helm") is not None or importlib.util.find_spec("helm_python") is not None
pytestmark = pytest.mark.skipif(not HELM, reason="needs helm on PATH or `pip install 'driftcheck[helm]'`")

ECHO = {
    "echo/Chart.yaml": "apiVersion: v2\nname: echo\nversion: 0.1.0\n",
    "echo/values.yaml": "replicas: 1\nlist: [default]\ndefaults: [d0, d1]\n",
    "echo/values.schema.json": '{"type": "object", "properties": {"replicas": {"type": "integer"}}}\n',
    "echo/files/motd.txt": "hello from .Files\n",
    "echo/templates/echo.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: echo}\ndata:\n"
        "  values: {{ toJson .Values | quote }}\n"
        "  release: {{ printf \"%s/%s\" .Release.Name .Release.Namespace | quote }}\n"
        "  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
        "  monitoring: {{ .Capabilities.APIVersions.Has \"monitoring.coreos.com/v1\" | quote }}\n"
        "  motd: {{ .Files.Get \"files/motd.txt\" | quote }}\n"),
    "echo/templates/hooks.yaml": (
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n"
        "  annotations: {helm.sh/hook: pre-install}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: echo-test\n  annotations: {helm.sh/hook: test}\n"),
    "echo/crds/widgets.yaml": ("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
                               "metadata: {name: widgets.example.com}\n"),
    "echo/env/prod.yaml": "replicas: 3\n",
    "echo/env/zone.yaml": "zone: east\nlist: [a, b, c]\n",
    "shared/common.yaml": "team: platform\n",
}


def tree_of(repo: GitRepoBuilder) -> CommitTree:
    r = open_repo(str(repo.path))
    return CommitTree(r, resolve_commit(r))


def render(repo: GitRepoBuilder, options: dict[str, Any]) -> Rendered:
    app = App("web", (app_source({"path": "echo", "helm": options}),), Destination(namespace="shop"))
    return render_app(tree_of(repo), app)


def echoed(out: Rendered) -> dict[str, Any]:
    assert out.errors == [], out.errors
    (cm,) = [r for r in out.resources if r.key.kind == "ConfigMap"]
    data = dict(cm.body["data"])
    data["values"] = json.loads(data["values"])
    return data


@pytest.fixture
def echo_repo(git_repo: GitRepoBuilder) -> GitRepoBuilder:
    git_repo.commit(ECHO, "echo chart")
    return git_repo


def test_values_files_value_object_and_parameters_reach_the_chart_as_helm_types_them(
        echo_repo: GitRepoBuilder) -> None:
    out = render(echo_repo, {
        "valueFiles": ["env/*.yaml", "/shared/common.yaml", "missing.yaml"], "ignoreMissingValueFiles": True,
        "values": "ignored: true\n", "valuesObject": {"fromObject": 1},
        "parameters": [{"name": "list[1]", "value": "B"}, {"name": "csv", "value": "x,y"},
                       {"name": "ports", "value": "{80,443}"}, {"name": "big", "value": "007"},
                       {"name": "flag", "value": "TRUE"}, {"name": "app", "value": "$ARGOCD_APP_NAME"},
                       {"name": "dotted\\.key", "value": "1"}, {"name": "defaults[1]", "value": "D"},
                       {"name": "port", "value": "8080", "forceString": True}]})
    values = echoed(out)["values"]
    assert values["replicas"] == 3 and values["zone"] == "east" and values["team"] == "platform"
    assert values["fromObject"] == 1 and "ignored" not in values  # valuesObject replaces values
    assert values["list"] == ["a", "B", "c"]  # an index writes into the list a values file gave...
    assert values["defaults"] == [None, "D"]  # ...but replaces a chart default's, as Helm does
    assert values["csv"] == "x,y" and values["ports"] == [80, 443]
    assert values["big"] == "007" and values["flag"] is True and values["port"] == "8080"
    assert values["app"] == "web" and values["dotted.key"] == 1
    assert {"echo/env/prod.yaml", "echo/env/zone.yaml", "shared/common.yaml"} <= set(out.files_read)


def test_release_namespace_files_crds_and_hooks(echo_repo: GitRepoBuilder) -> None:
    out = render(echo_repo, {"releaseName": "shop-web", "namespace": "elsewhere"})
    data = echoed(out)
    assert data["release"] == "shop-web/elsewhere" and data["motd"] == "hello from .Files\n"
    assert sorted(r.key.kind for r in out.resources) == ["ConfigMap", "CustomResourceDefinition"]
    assert next(r for r in out.resources if r.key.kind == "ConfigMap").key.namespace == "shop"
    assert sorted((h.resource, h.types) for h in out.hooks) == [
        ("Job/migrate", "PreSync"), ("Pod/echo-test", "none (helm.sh/hook: test)")]
    migrate = next(h for h in out.hooks if h.resource == "Job/migrate")
    assert migrate.origin.file == "echo/templates/hooks.yaml"
    trimmed = render(echo_repo, {"skipCrds": True, "skipTests": True})
    assert [r.key.kind for r in trimmed.resources] == ["ConfigMap"]
    assert [h.resource for h in trimmed.hooks] == ["Job/migrate"]


def test_schema_is_enforced_unless_skipped(echo_repo: GitRepoBuilder) -> None:
    bad = {"parameters": [{"name": "replicas", "value": "three"}]}
    (error,) = render(echo_repo, bad).errors
    assert "schema" in error.message and error.file == "echo/Chart.yaml"
    assert echoed(render(echo_repo, {**bad, "skipSchemaValidation": True}))["values"]["replicas"] == "three"


def test_file_parameters_read_repository_files(echo_repo: GitRepoBuilder) -> None:
    out = render(echo_repo, {"fileParameters": [{"name": "banner", "path": "files/motd.txt"}]})
    assert echoed(out)["values"]["banner"] == "hello from .Files\n"
    (error,) = render(echo_repo, {"fileParameters": [{"name": "b", "path": "../../etc/hostname"}]}).errors
    assert "outside the repository" in error.message


def test_capabilities_come_from_the_application_else_the_cluster(echo_repo: GitRepoBuilder) -> None:
    tree = tree_of(echo_repo)
    target = Target("web", "shop", capabilities=Capabilities("v1.29.3-eks-2d98532",
                                                             ("monitoring.coreos.com/v1", "v1")))
    source = app_source({"path": "echo", "helm": {}})
    data = echoed_output(helm.render(tree, "echo", source.render, target, 60))
    assert (data["kube"], data["monitoring"]) == ("v1.29.3", "true")
    pinned = app_source({"path": "echo", "helm": {"kubeVersion": "1.31.0", "apiVersions": ["v1"]}})
    data = echoed_output(helm.render(tree, "echo", pinned.render, target, 60))
    assert (data["kube"], data["monitoring"]) == ("v1.31.0", "false")


def echoed_output(output: Any) -> dict[str, str]:
    assert output.errors == [], output.errors
    (cm,) = [d.body for d in output.documents if d.body["kind"] == "ConfigMap"]
    return dict(cm["data"])


@pytest.fixture
def values_server(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server of values files."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "remote.yaml").write_text("remote: yes-it-was-fetched\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_values_files_are_fetched_and_offline_says_so(echo_repo: GitRepoBuilder,
                                                           values_server: str) -> None:
    tree = tree_of(echo_repo)
    source = app_source({"path": "echo", "helm": {"valueFiles": [f"{values_server}/remote.yaml"]}})
    data = echoed_output(helm.render(tree, "echo", source.render, Target("web", "shop"), 60))
    assert json.loads(data["values"])["remote"] == "yes-it-was-fetched"
    offline = helm.render(tree, "echo", source.render, Target("web", "shop", offline=True), 60)
    assert [e.message for e in offline.errors] == [
        f"values file {values_server}/remote.yaml: remote, and the run is offline; not fetched"]
    gone = app_source({"path": "echo", "helm": {"valueFiles": [f"{values_server}/gone.yaml"]}})
    (error,) = helm.render(tree, "echo", gone.render, Target("web", "shop"), 60).errors
    assert f"values file {values_server}/gone.yaml could not be downloaded" in error.message
