"""render_app on real Git repositories: directory, Kustomize and Helm apps, and the errors users cause."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from driftcheck.apps import path_app
from driftcheck.apps.argocd import app_source
from driftcheck.commands.options import FetchOptions
from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.sources import SourceTrees
from driftcheck.fetch.tree import CommitTree
from driftcheck.model import App, Destination
from driftcheck.render import Rendered, render_app

if TYPE_CHECKING:
    from conftest import GitRepoBuilder  # the git_repo fixture's type (tests/conftest.py)


def cm(name: str, namespace: str | None = None, **data: str) -> str:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {"k": "v"}}
    return yaml.safe_dump(body)  # 6 lines for one key: apiVersion, data, k, kind, metadata, name


def render(repo: GitRepoBuilder, path: str = "app", namespace: str = "team", recurse: bool = False,
           values_files: list[str] | None = None, release_name: str = "",
           source_options: dict[str, dict[str, Any]] | None = None) -> Rendered:
    """The app an Application with these spec.source blocks declares, rendered at the repository's HEAD."""
    blocks = source_options or {}
    helm = {**blocks.get("helm", {}), "valueFiles": values_files or [], "releaseName": release_name}
    directory = {**blocks.get("directory", {}), "recurse": recurse}
    source = {**blocks, "path": path, "directory": directory, "helm": helm}
    r = open_repo(str(repo.path))
    app = App("shop", (app_source(source),), Destination(namespace=namespace))
    return render_app(CommitTree(r, resolve_commit(r)), app)


def names(out: Rendered) -> list[str]:
    return sorted(r.key.name for r in out.resources)


def test_directory_app_reads_yaml_yml_json_and_recurses_only_when_asked(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({
        "app/a.yaml": cm("a") + "---\n" + cm("b", "other"),
        "app/c.yml": cm("c"),
        "app/d.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}}',
        "app/notes.txt": cm("not-a-manifest"),
        "app/values.yaml": "replicas: 3\nimage: web\n",  # YAML, not a Kubernetes object
        "app/sub/e.yaml": cm("e"),
        "elsewhere/f.yaml": cm("f"),
    }, "apps")
    flat = render(git_repo)
    assert names(flat) == ["a", "b", "c", "d"]
    assert flat.errors == [] and flat.skipped_documents == 1 and flat.renderer == "directory"
    assert {r.key.name: r.key.namespace for r in flat.resources} == {"a": "team", "b": "other", "c": "team",
                                                                     "d": "team"}
    origin_b = next(r.origin for r in flat.resources if r.key.name == "b")
    assert (origin_b.file, origin_b.line) == ("app/a.yaml", 8)  # after the 6 lines of a and the ---
    deep = render(git_repo, recurse=True)
    assert names(deep) == ["a", "b", "c", "d", "e"]
    assert "app/sub/e.yaml" in deep.files_read and "elsewhere/f.yaml" not in deep.files_read


def test_cluster_scoped_kinds_get_no_namespace(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\n"
                                    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                                    "metadata: {name: reader}\n"}, "cluster")
    keys = {r.key.kind: r.key.namespace for r in render(git_repo).resources}
    assert keys == {"Namespace": "", "ClusterRole": ""}


def test_malformed_yaml_is_reported_at_file_line_and_other_files_render(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/good.yaml": cm("good"),
                     "app/broken.yaml": cm("first") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                        "  name: bad\n   indent: wrong\n"}, "broken")
    out = render(git_repo)
    assert names(out) == ["first", "good"]
    assert len(out.errors) == 1
    error = out.errors[0]
    assert (error.app, error.file, error.line) == ("shop", "app/broken.yaml", 12)
    assert str(error).startswith("app shop, app/broken.yaml:12: malformed YAML")


def test_missing_path_is_an_app_error(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"other/a.yaml": cm("a")}, "x")
    out = render(git_repo)
    assert out.resources == [] and "path app does not exist" in str(out.errors[0])


BASE = {"base/kustomization.yaml": "resources: [cm.yaml]\n", "base/cm.yaml": cm("settings", a="1")}


def kustomize_oracle(repo: GitRepoBuilder, path: str) -> list[dict[str, object]]:
    out = subprocess.run(["kubectl", "kustomize", str(repo.path / path)], capture_output=True, text=True,
                         check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_kustomize_app_matches_kubectl_and_traces_origins_through_bases(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({**BASE,
                     "overlays/prod/kustomization.yaml": "namespace: prod\nnamePrefix: prod-\nresources:\n"
                     "- ../../base\n- extra.yaml\npatches:\n- path: patch.yaml\nconfigMapGenerator:\n"
                     "- name: generated\n  literals: [x=1]\n",
                     "overlays/prod/extra.yaml": "# comment\n" + cm("extra"),
                     "overlays/prod/patch.yaml": cm("settings", a="2")}, "overlay")
    out = render(git_repo, "overlays/prod")
    assert out.errors == [] and out.renderer == "kustomize"
    expected = kustomize_oracle(git_repo, "overlays/prod")
    assert sorted((r.key.namespace, r.key.name) for r in out.resources) == sorted(
        (d["metadata"]["namespace"], d["metadata"]["name"]) for d in expected)  # type: ignore[index]
    assert [r.body for r in sorted(out.resources, key=lambda r: r.key.name)] == sorted(
        expected, key=lambda d: d["metadata"]["name"])  # type: ignore[index]
    origins = {r.key.name.rsplit("-", 1)[0] if "generated" in r.key.name else r.key.name:
               (r.origin.file, r.origin.line) for r in out.resources}
    assert origins["prod-settings"] == ("base/cm.yaml", 1)
    assert origins["prod-extra"] == ("overlays/prod/extra.yaml", 2)
    assert origins["prod-generated"] == ("overlays/prod/kustomization.yaml", 9)
    assert set(out.files_read) == {"overlays/prod/kustomization.yaml", "overlays/prod/extra.yaml",
                                   "overlays/prod/patch.yaml", "base/kustomization.yaml", "base/cm.yaml"}


def test_broken_kustomization_is_an_app_error_with_kustomize_text(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/kustomization.yaml": "resources: [cm.yaml]\n", "app/cm.yaml": "kind: ConfigMap\n"},
                    "broken")
    out = render(git_repo)
    assert out.resources == [] and len(out.errors) == 1
    message = str(out.errors[0])
    assert message.startswith("app shop, app/kustomization.yaml: ") and "cm.yaml" in message
    assert "missing metadata.name" in message
    assert "/tmp" not in message, "paths are shown relative to the repository, not the temporary export"


def test_remote_kustomize_bases_are_refused_offline(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/kustomization.yaml": "resources:\n- https://github.com/org/repo//base?ref=v1\n"},
                    "remote")
    out = render(git_repo)
    assert out.resources == []
    [error] = out.errors
    assert "is a remote reference" in error.message
    assert (error.file, error.line) == ("app/kustomization.yaml", 2)


def test_render_does_not_touch_the_work_tree(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({**BASE, "app/kustomization.yaml": "resources: [../base]\n"}, "one")
    (git_repo.path / "base" / "cm.yaml").write_text(cm("uncommitted"))  # a dirty work tree
    out = render(git_repo)
    assert names(out) == ["settings"], "the commit is rendered, not the work tree"
    assert (git_repo.path / "base" / "cm.yaml").read_text() == cm("uncommitted")


CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "chart/values.yaml": "replicas: 1\nimage: web:1\n",
    "chart/values-prod.yaml": "replicas: 3\n",
    "chart/templates/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                                   "  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n"
                                   "  template:\n    spec:\n      containers:\n      - name: web\n"
                                   "        image: {{ .Values.image }}\n",
}
HELM_AVAILABLE = shutil.which("helm") is not None or importlib.util.find_spec("helm_python") is not None


def test_a_dependency_not_vendored_is_fetched_and_an_unreachable_repository_is_the_apps_error(
        git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    """ArgoCD runs `helm dependency build` for a missing dependency: driftcheck fetches it, and a
    repository it cannot reach is that app's error, naming the dependency and the URL."""
    git_repo.commit({**CHART, "chart/Chart.yaml": CHART["chart/Chart.yaml"] + "dependencies:\n- name: redis\n"
                     "  version: 19.0.0\n  repository: http://127.0.0.1:9/charts\n"}, "deps")
    r = open_repo(str(git_repo.path))
    app = App("shop", (app_source({"path": "chart"}),), Destination(namespace="team"))
    trees = SourceTrees(CommitTree(r, resolve_commit(r)), fetch=FetchOptions(cache_dir=tmp_path, timeout=2))
    out = render_app(trees, app)
    assert out.resources == [] and len(out.errors) == 1
    message = str(out.errors[0])
    assert message.startswith("app shop, chart/Chart.yaml") and "'redis' '19.0.0'" in message
    assert "http://127.0.0.1:9/charts" in message and "cannot connect" in message


def test_vendored_dependency_is_accepted(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({**CHART, "chart/Chart.yaml": CHART["chart/Chart.yaml"] + "dependencies:\n- name: redis\n"
                     "  version: 19.0.0\n", "chart/charts/redis/Chart.yaml": "apiVersion: v2\nname: redis\n"
                     "version: 19.0.0\n"}, "vendored")
    out = render(git_repo, "chart", values_files=["values-prod.yaml"])
    assert not any("not vendored" in e.message for e in out.errors)


def test_helm_without_a_renderer_says_how_to_enable_it(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    """The real CLI on a machine without Helm: no `helm` on PATH and the SDK not importable."""
    git_repo.commit(CHART, "chart")
    shadow = tmp_path / "no-helm-sdk" / "helm_python"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('helm-python-sdk is not installed')\n")
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                           if not (Path(d) / "helm").exists())
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(shadow.parent)}
    proc = subprocess.run([sys.executable, "-m", "driftcheck.cli", "render", "--repo", str(git_repo.path),
                           "--path", "chart", "-n", "team", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'driftcheck[helm]'" in proc.stderr and "install helm on PATH" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(not HELM_AVAILABLE, reason="needs helm on PATH or `pip install 'driftcheck[helm]'`")
def test_helm_chart_renders_with_values_files(git_repo: GitRepoBuilder) -> None:
    git_repo.commit(CHART, "chart")
    out = render(git_repo, "chart", values_files=["values-prod.yaml"], release_name="shop-web")
    assert out.errors == []
    (deploy,) = out.resources
    assert deploy.key.name == "shop-web" and deploy.key.namespace == "team"
    assert deploy.body["spec"]["replicas"] == 3
    assert deploy.body["spec"]["template"]["spec"]["containers"][0]["image"] == "web:1"
    assert deploy.origin.file == "chart/templates/deploy.yaml"


def test_argocd_directory_include_and_exclude(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/web.yaml": cm("web"), "app/api.yaml": cm("api"), "app/db.yaml": cm("db"),
                     "app/sub/job.yaml": cm("job")}, "apps")
    only = render(git_repo, recurse=True, source_options={"directory": {"include": "{web.yaml,sub/*}"}})
    assert names(only) == ["job", "web"]
    without = render(git_repo, recurse=True, source_options={"directory": {"exclude": "*db*"}})
    assert names(without) == ["api", "job", "web"]


DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.0}, {name: side, image: ghcr.io/org/side:2}]
"""


def test_argocd_kustomize_options_are_applied_as_kustomize_would(git_repo: GitRepoBuilder,
                                                                 tmp_path: Path) -> None:
    git_repo.commit({"app/kustomization.yaml": "resources: [deploy.yaml]\n", "app/deploy.yaml": DEPLOY},
                    "one")
    options = {"namePrefix": "prod-", "namespace": "prod", "commonLabels": {"team": "shop"},
               "images": ["nginx:1.25", "ghcr.io/org/side=registry.example.com/side:3"],
               "replicas": [{"name": "web", "count": 4}]}
    out = render(git_repo, source_options={"kustomize": options})
    assert out.errors == []
    # Oracle: the same settings written into a kustomization by hand, built by kubectl kustomize.
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "deploy.yaml").write_text(DEPLOY)
    (manual / "kustomization.yaml").write_text(
        "resources: [deploy.yaml]\nnamePrefix: prod-\nnamespace: prod\ncommonLabels: {team: shop}\n"
        "images:\n- {name: nginx, newTag: '1.25'}\n"
        "- {name: ghcr.io/org/side, newName: registry.example.com/side, newTag: '3'}\n"
        "replicas: [{name: web, count: 4}]\n")
    expected = yaml.safe_load(subprocess.run(["kubectl", "kustomize", str(manual)], capture_output=True,
                                             text=True, check=True).stdout)
    (deploy,) = out.resources
    assert deploy.body == expected
    assert deploy.key.namespace == "prod" and deploy.key.name == "prod-web"
    assert (git_repo.path / "app" / "kustomization.yaml").read_text() == "resources: [deploy.yaml]\n"


@pytest.mark.skipif(not HELM_AVAILABLE, reason="needs helm on PATH or `pip install 'driftcheck[helm]'`")
def test_argocd_helm_values_value_object_and_parameters_layer_in_order(git_repo: GitRepoBuilder) -> None:
    git_repo.commit(CHART, "chart")
    options = {"values": "replicas: 5\nimage: web:2\n", "valuesObject": {"replicas": 6},
               "parameters": [{"name": "image", "value": "web:3"}]}
    out = render(git_repo, "chart", values_files=["values-prod.yaml"], source_options={"helm": options})
    assert out.errors == []
    (deploy,) = out.resources
    assert deploy.body["spec"]["replicas"] == 6
    assert deploy.body["spec"]["template"]["spec"]["containers"][0]["image"] == "web:3"


def test_an_outside_symlink_is_reported_by_the_app_that_reads_it_only(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({**BASE, "a/kustomization.yaml": "resources: [../base]\n",
                     "b/kustomization.yaml": "resources: [cm.yaml]\n", "b/cm.yaml": cm("b")}, "two apps")
    os.symlink("/etc/hostname", git_repo.path / "b" / "leak.yaml")
    git_repo.commit({}, "link")
    r = open_repo(str(git_repo.path))
    tree = CommitTree(r, resolve_commit(r))
    a = render_app(tree, path_app("a", "a", "team"))
    b = render_app(tree, path_app("b", "b", "team"))
    assert a.errors == [] and names(a) == ["settings"]
    assert [e.file for e in b.errors] == ["b/leak.yaml"] and names(b) == ["b"]


def test_nameless_objects_are_errors_and_generate_name_objects_are_skipped(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/a.yaml": cm("a") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n---\n"
                     "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-}\n"}, "odd")
    out = render(git_repo)
    assert names(out) == ["a"] and out.skipped_documents == 1
    assert [(e.file, e.line, e.message) for e in out.errors] == [
        ("app/a.yaml", 8, "ConfigMap without metadata.name")]


@pytest.mark.skipif(not HELM_AVAILABLE, reason="needs helm on PATH or `pip install 'driftcheck[helm]'`")
def test_helm_crds_are_included_unless_argocd_skips_them(git_repo: GitRepoBuilder) -> None:
    crd = ("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
           "metadata: {name: widgets.example.com}\nspec: {group: example.com}\n")
    git_repo.commit({**CHART, "chart/crds/widgets.yaml": crd}, "chart with a CRD")
    with_crds = render(git_repo, "chart")
    assert with_crds.errors == []
    assert sorted(r.key.kind for r in with_crds.resources) == ["CustomResourceDefinition", "Deployment"]
    crd_res = next(r for r in with_crds.resources if r.key.kind == "CustomResourceDefinition")
    assert crd_res.key.namespace == "" and crd_res.origin.file == "chart/crds/widgets.yaml"
    skipped = render(git_repo, "chart", source_options={"helm": {"skipCrds": True}})
    assert [r.key.kind for r in skipped.resources] == ["Deployment"]
