"""Jsonnet in directory sources, as ArgoCD evaluates it (tlas, extVars, libs), bounded and confined to the
repository: each case is committed to a real repository and rendered from an Application."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from driftcheck.apps.argocd import apps_from_argocd
from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.tree import CommitTree
from driftcheck.render import Rendered, render_app

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

pytest.importorskip("_jsonnet", reason="needs the jsonnet package")
URL = "https://git.example.com/gitops.git"


def render(repo: GitRepoBuilder, directory: dict[str, Any] | None = None, timeout: float = 60) -> Rendered:
    source = {"repoURL": URL, "path": "app", **({"directory": directory} if directory else {})}
    body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "web"},
            "spec": {"source": source, "destination": {"namespace": "web"}}}
    [app], _ = apps_from_argocd([(body, "argocd/web.yaml", 1)], {URL})
    grepo = open_repo(str(repo.path))
    return render_app(CommitTree(grepo, resolve_commit(grepo)), app, timeout=timeout)


def cm(name: str, data: str = "{}") -> str:
    return f"{{apiVersion: 'v1', kind: 'ConfigMap', metadata: {{name: {name}}}, data: {data}}}"


def test_tlas_ext_vars_and_libs_as_argocd_passes_them(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({
        "app/main.jsonnet": "local lib = import 'names.libsonnet';\nfunction(replicas, tier)\n"
                            + cm("lib.prefix + tier", "{r: std.toString(replicas), e: std.extVar('env'),"
                                 " c: std.toString(std.extVar('n') + 1)}"),
        "vendor/names.libsonnet": "{prefix: 'web-'}",
    }, "jsonnet")
    out = render(git_repo, {"jsonnet": {
        "tlas": [{"name": "replicas", "value": "3", "code": True},
                 {"name": "tier", "value": "$ARGOCD_APP_NAME"}],
        "extVars": [{"name": "env", "value": "prod"}, {"name": "n", "value": "41", "code": True}],
        "libs": ["vendor"]}})
    assert not out.errors, [str(e) for e in out.errors]
    [res] = out.resources
    assert res.key.name == "web-web" and res.origin.file == "app/main.jsonnet"
    assert res.body["data"] == {"r": "3", "e": "prod", "c": "42"}


def test_an_array_is_flattened_in_order_and_libsonnet_is_no_entry_point(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n",
                     "app/b.jsonnet": "[" + cm("'second'") + ", " + cm("'third'") + "]",
                     "app/c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fourth}\n",
                     "app/d.libsonnet": cm("'never'")}, "array")
    out = render(git_repo)
    assert [r.key.name for r in out.resources] == ["first", "second", "third", "fourth"], out.errors


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../../etc/passwd", "../../outside.libsonnet"])
def test_imports_out_of_the_repository_are_refused(git_repo: GitRepoBuilder, target: str) -> None:
    git_repo.commit({"app/x.jsonnet": f"importstr '{target}'", "app/ok.yaml":
                     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n"}, "hostile import")
    (git_repo.path.parent / "outside.libsonnet").write_text("{secret: 'leaked'}")
    out = render(git_repo)
    assert [r.key.name for r in out.resources] == ["ok"]
    [error] = [e for e in out.errors if e.file == "app/x.jsonnet"]
    assert "refused" in error.message and "root:" not in error.message and "leaked" not in error.message


def test_infinite_recursion_ends_with_an_error(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/loop.jsonnet": "local f(x) = f(x + 1); f(0)"}, "recursion")
    out = render(git_repo)
    assert "max stack frames exceeded" in out.errors[0].message


def test_an_endless_evaluation_is_stopped_at_the_timeout(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/slow.jsonnet": "std.length(std.range(1, 1e12))"}, "endless")
    started = time.monotonic()
    out = render(git_repo, timeout=3)
    assert time.monotonic() - started < 20
    assert [e.message for e in out.errors] in (["jsonnet did not finish within 3 s"],
                                              [e.message for e in out.errors if "memory" in e.message])
    assert out.errors and out.resources == []


def test_output_that_is_not_objects_is_argocds_error(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/x.jsonnet": "[1, 2]", "app/y.jsonnet": "{metadata: {name: 'nokind'}}"}, "bad")
    out = render(git_repo)
    assert sorted(e.file for e in out.errors) == ["app/x.jsonnet", "app/y.jsonnet"]
    assert all("Failed to unmarshal generated json" in e.message for e in out.errors)


def test_the_skip_marker_leaves_a_file_out(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/x.jsonnet": "// +argocd:skip-file-rendering\n" + cm("'skipped'"),
                     "app/y.yaml": "# +argocd:skip-file-rendering\napiVersion: v1\nkind: ConfigMap\n"
                                   "metadata: {name: skipped-too}\n",
                     "app/z.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\n"}, "marker")
    out = render(git_repo)
    assert [r.key.name for r in out.resources] == ["kept"] and not out.errors
