"""Odd or hostile input from Git is one clear error on its file or app, and the rest still renders: a
directory glob built to backtrack, a Git LFS pointer, a kustomize option ArgoCD would refuse, an object
whose name or namespace Kubernetes could never hold."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from driftcheck.apps.argocd import app_source
from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.tree import CommitTree
from driftcheck.model import App, Destination
from driftcheck.render import Rendered, render_app
from driftcheck.render.glob import DirectoryGlob
from testing import planted
from tests.conftest import GitRepoBuilder


def cm(name: str, namespace: str | None = None) -> str:
    ns = f", namespace: {json.dumps(namespace)}" if namespace is not None else ""
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {json.dumps(name)}{ns}}}\ndata: {{a: b}}\n"


def render(repo: GitRepoBuilder, path: str, **options: object) -> Rendered:
    r = open_repo(str(repo.path))
    app = App("web", (app_source({"path": path, **options}),), Destination(namespace="demo"))
    return render_app(CommitTree(r, resolve_commit(r)), app)


def test_a_directory_glob_built_to_backtrack_is_matched_at_once(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({f"app/{'a' * 60}.yaml": cm("long"), "app/aXa.yaml": cm("short")}, "two files")
    started = time.monotonic()
    out = render(git_repo, "app", directory={"include": "*a" * 16 + "*X"})
    assert time.monotonic() - started < 5
    assert out.errors == [] and [r.key.name for r in out.resources] == []
    glob = DirectoryGlob("*a" * 40 + "X")
    started = time.monotonic()
    assert not glob.match("a" * 5000 + ".yaml")
    assert time.monotonic() - started < 5


# ArgoCD (gobwas/glob without separators): what each include pattern selects.
@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("*.yaml", "sub/dir/web.yaml", True),          # * spans /
    ("**/web.yaml", "web.yaml", False),           # ** is * here: the / must be there
    ("{web,api}.yaml", "api.yaml", True),
    ("{web,api}.yaml", "db.yaml", False),
    ("{web,{db,cache}*}.yaml", "cache-2.yaml", True),  # nested alternatives with wildcards
    ("{a,}b.yaml", "b.yaml", True),                # an empty alternative
    ("{web,api", "api", True),                     # an unclosed brace closes at the end
    ("web,api.yaml", "web,api.yaml", True),        # , and } outside braces are text
    ("we?.yaml", "web.yaml", True),
    ("we?.yaml", "we.yaml", False),
    ("[a-c]*.yaml", "b.yaml", True),
    ("[!a-c]*.yaml", "b.yaml", False),
    ("[xyz].yaml", "y.yaml", True),
    ("[!xyz].yaml", "w.yaml", True),
    (r"\*.yaml", "*.yaml", True),
    (r"\*.yaml", "a.yaml", False),
    ("[a-c", "a", False),                          # invalid: ArgoCD matches nothing
    ("[]", "]", False),
    ("[c-a]", "b", False),
    ("[a-cx]", "x", False),                        # a range or a list, never both
])
def test_directory_globs_select_what_argocd_selects(pattern: str, path: str, matches: bool) -> None:
    assert DirectoryGlob(pattern).match(path) is matches


def test_a_git_lfs_pointer_is_reported_not_silently_dropped(git_repo: GitRepoBuilder) -> None:
    pointer = ("version https://git-lfs.github.com/spec/v1\noid sha256:"
               "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")
    git_repo.commit({"app/deploy.yaml": pointer, "app/cm.yaml": cm("plain")}, "an LFS-tracked manifest")
    out = render(git_repo, "app")
    assert [r.key.name for r in out.resources] == ["plain"]
    [error] = out.errors
    assert (error.file, error.line) == ("app/deploy.yaml", 1) and "file is a Git LFS pointer" in error.message


@pytest.mark.parametrize(("name", "namespace", "field"), [
    ("cm", "prod/secrets#", "metadata.namespace"),
    ("cm", "x/../..", "metadata.namespace"),
    ("x/../..", None, "metadata.name"),
    ("a?b", None, "metadata.name"),
])
def test_an_object_kubernetes_could_never_hold_is_an_error_at_its_line(
        git_repo: GitRepoBuilder, name: str, namespace: str | None, field: str) -> None:
    git_repo.commit({"app/all.yaml": cm("fine") + "---\n" + cm(name, namespace)}, "a bad identity")
    out = render(git_repo, "app")
    assert [r.key.name for r in out.resources] == ["fine"]
    [error] = out.errors
    assert (error.file, error.line) == ("app/all.yaml", 6) and field in error.message


def test_an_invalid_namespace_from_a_kustomize_build_is_an_error(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/kustomization.yaml": "resources: [cm.yaml]\n",
                     "app/cm.yaml": cm("cm", "prod/secrets#")}, "kustomize")
    out = render(git_repo, "app")
    assert out.resources == []
    [error] = out.errors
    assert error.file == "app/cm.yaml" and "metadata.namespace" in error.message


APPLICATION = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}}}
spec:
  source:
    repoURL: https://example.com/this.git
    path: {path}
    kustomize: {options}
  destination: {{namespace: demo}}
"""


@pytest.mark.parametrize(("options", "said"), [
    ('{replicas: [{name: web, count: "three"}]}', "replicas[0].count: 'three' is not an integer"),
    ("{images: 5}", "images: 5 is not a list"),
    ("{images: [5]}", "images[0]: 5 is not a string"),
    ("{commonLabels: [a]}", "commonLabels: ['a'] is not a dict"),
    ("{patches: [x.yaml]}", "patches[0]: 'x.yaml' is not a dict"),
])
@pytest.mark.slow
def test_a_kustomize_option_argocd_would_refuse_fails_that_app_only(
        git_repo: GitRepoBuilder, tmp_path: Path, options: str, said: str) -> None:
    git_repo.commit({"app/kustomization.yaml": "resources: [cm.yaml]\n", "app/cm.yaml": cm("web"),
                     "argocd/bad.yaml": APPLICATION.format(name="bad", path="app", options=options),
                     "argocd/good.yaml": APPLICATION.format(name="good", path="app",
                                                            options="{namePrefix: ok-}")}, "two Applications")
    live = tmp_path / "live.json"
    live.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ok-web", "namespace": "demo"},
         "data": {"a": "b"}}]}))
    args = ["check", "--repo", str(git_repo.path), "--argocd-apps", "argocd/*.yaml", "--repo-url",
            "https://example.com/this.git", "--live-snapshot", str(live), "--out", str(tmp_path / "out"),
            "--format", "json", "-o", "none"]
    done = planted.run_cli(args, tmp_path / "logs")
    assert done.returncode == 2 and "internal error" not in done.stderr, done.stderr
    report = json.loads(next((tmp_path / "out").rglob("report.json")).read_text())
    [error] = report["errors"]
    assert error["app"] == "bad" and error["file"] == "argocd/bad.yaml" and said in error["message"]
    assert {(r["app"], r["status"]) for r in report["resources"]} == {("good", "in-sync")}
