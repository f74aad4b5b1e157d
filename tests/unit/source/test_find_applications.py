"""--argocd-apps GLOB finds Application documents at the commit, relative to the repository root."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from driftcheck.apps.argocd import find_application_documents, glob_regex
from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.tree import CommitTree

if TYPE_CHECKING:
    from conftest import GitRepoBuilder  # the git_repo fixture's type (tests/conftest.py)

APP = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {}}}\nspec: {{}}\n"


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("argocd/*.yaml", "argocd/web.yaml", True),
    ("argocd/*.yaml", "argocd/sub/web.yaml", False),
    ("argocd/**/*.yaml", "argocd/web.yaml", True),
    ("argocd/**/*.yaml", "argocd/a/b/web.yaml", True),
    ("**/*-app.yaml", "web-app.yaml", True),
    ("./argocd/web.yaml", "argocd/web.yaml", True),
    ("argocd/?eb.yaml", "argocd/web.yaml", True),
    ("argocd/web.yaml", "argocd/webxyaml", False),
    ("./.argocd/*.yaml", ".argocd/web.yaml", True),
])
def test_glob_semantics(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).match(path)) is matches


def test_application_documents_are_found_with_file_and_line(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"argocd/a.yaml": "# header\n" + APP.format("a") + "---\n" + APP.format("b"),
                     "argocd/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
                     "argocd/nested/c.yaml": APP.format("c"), "other/d.yaml": APP.format("d")}, "apps")
    r = open_repo(str(git_repo.path))
    tree = CommitTree(r, resolve_commit(r))
    documents, errors = find_application_documents(tree, "argocd/*.yaml")
    assert errors == []
    assert [(b["metadata"]["name"], f, line) for b, f, line in documents] == [
        ("a", "argocd/a.yaml", 2), ("b", "argocd/a.yaml", 7)]
    documents, errors = find_application_documents(tree, "nothing/*.yaml")
    assert documents == [] and "no file matches" in errors[0].message
