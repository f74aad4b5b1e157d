"""Source-type detection and the refusals ArgoCD's repo-server makes before rendering: committed to a real
repository and rendered from an Application, as a run does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftcheck.apps.argocd import apps_from_argocd
from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.tree import CommitTree
from driftcheck.render import Rendered, render_app

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

URL = "https://git.example.com/gitops.git"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: '1'\n"
CHART = {"app/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
         "app/templates/cm.yaml": CM.format(name="from-chart")}


def render(repo: GitRepoBuilder, source: dict[str, Any]) -> Rendered:
    body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "web"},
            "spec": {"source": {"repoURL": URL, **source}, "destination": {"namespace": "web"}}}
    [app], skipped = apps_from_argocd([(body, "argocd/web.yaml", 1)], {URL})
    assert not skipped
    grepo = open_repo(str(repo.path))
    return render_app(CommitTree(grepo, resolve_commit(grepo)), app, timeout=60)


def test_helm_and_kustomize_blocks_together_are_argocds_error(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/cm.yaml": CM.format(name="a")}, "plain")
    out = render(git_repo, {"path": "app", "helm": {"releaseName": "r"}, "kustomize": {"namePrefix": "p-"}})
    assert out.resources == []
    [error] = out.errors
    assert error.message == "multiple application sources defined: Kustomize,Helm" and error.app == "web"


def test_empty_blocks_are_dropped_as_argocd_normalizes_them(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/cm.yaml": CM.format(name="a")}, "plain")
    out = render(git_repo, {"path": "app", "helm": {}, "kustomize": {}, "directory": {"recurse": False}})
    assert [r.key.name for r in out.resources] == ["a"] and out.renderer == "directory", out.errors


def test_an_explicit_directory_block_wins_over_a_chart_yaml(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({**CHART, "app/plain.yaml": CM.format(name="plain")}, "chart")
    out = render(git_repo, {"path": "app", "directory": {"include": "plain.yaml"}})
    assert out.renderer == "directory" and [r.key.name for r in out.resources] == ["plain"], out.errors


def test_kustomization_wins_over_chart_yaml_when_both_are_there(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({**CHART, "app/kustomization.yaml": "resources: [k.yaml]\n",
                     "app/k.yaml": CM.format(name="from-kustomize")}, "both")
    out = render(git_repo, {"path": "app"})
    assert out.renderer == "kustomize"


def test_a_path_that_is_a_file_is_argocds_error(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/cm.yaml": CM.format(name="a")}, "plain")
    out = render(git_repo, {"path": "app/cm.yaml"})
    assert out.resources == []
    assert [e.message for e in out.errors] == ["app/cm.yaml: app path is not a directory"]


def test_a_symlink_out_of_the_repository_anywhere_fails_every_app(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/cm.yaml": CM.format(name="a"), "other/readme.md": "x"}, "plain")
    (git_repo.path / "other" / "escape").symlink_to("../../../etc/passwd")
    git_repo.commit({}, "a link out")
    out = render(git_repo, {"path": "app"})
    assert out.resources == []
    assert [e.message for e in out.errors] == [
        "repository contains out-of-bounds symlinks. file: other/escape"]


def test_a_symlink_that_stays_inside_is_fine(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/cm.yaml": CM.format(name="a"), "other/readme.md": "x"}, "plain")
    (git_repo.path / "other" / "back").symlink_to("../app/cm.yaml")
    git_repo.commit({}, "a link inside")
    out = render(git_repo, {"path": "app"})
    assert [r.key.name for r in out.resources] == ["a"], out.errors


def test_a_later_duplicate_replaces_the_earlier_with_a_warning_naming_both(git_repo: GitRepoBuilder) -> None:
    twin = CM.format(name="x").replace("'1'", "'2'")
    git_repo.commit({"app/a.yaml": CM.format(name="x"), "app/b.yaml": twin}, "twins")
    out = render(git_repo, {"path": "app"})
    [cm] = out.resources
    assert cm.body["data"] == {"a": "2"} and cm.origin.file == "app/b.yaml"
    [warning] = out.errors
    assert warning.severity == "warning" and warning.file == "app/b.yaml"
    assert "app/a.yaml:1" in warning.message
