"""`.argocd-source*.yaml` overrides merged over an Application source as ArgoCD merges them, read from a
real commit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftcheck.apps.argocd import app_source
from driftcheck.apps.source_overrides import merge_patch, merge_source_overrides
from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.tree import CommitTree

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

SOURCE = {"repoURL": "https://git.example.com/gitops.git", "path": "app", "targetRevision": "main",
          "helm": {"releaseName": "web", "parameters": [{"name": "image.tag", "value": "1.0"},
                                                        {"name": "replicas", "value": "2"}]}}


def tree(repo: GitRepoBuilder) -> CommitTree:
    grepo = open_repo(str(repo.path))
    return CommitTree(grepo, resolve_commit(grepo))


def test_image_updater_write_back_replaces_the_parameter_list_app_file_last(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({
        "app/.argocd-source.yaml": "helm:\n  parameters:\n  - {name: image.tag, value: '1.1'}\n",
        "app/.argocd-source-web.yaml": "helm:\n  parameters:\n  - {name: image.tag, value: '1.2'}\n"
                                       "path: elsewhere\nrepoURL: https://evil.example.com/x.git\n",
        "app/.argocd-source-other.yaml": "helm: {releaseName: not-ours}\n"}, "write-back")
    merged, read, errors = merge_source_overrides(tree(git_repo), "app", "web", SOURCE)
    assert not errors and read == ["app/.argocd-source.yaml", "app/.argocd-source-web.yaml"]
    assert merged["helm"] == {"releaseName": "web", "parameters": [{"name": "image.tag", "value": "1.2"}]}
    assert (merged["path"], merged["repoURL"]) == ("app", SOURCE["repoURL"])  # only tool options change
    helm = app_source(merged).render.helm
    assert helm is not None and [(p.name, p.value) for p in helm.parameters] == [("image.tag", "1.2")]


def test_kustomize_images_from_the_generic_file(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/.argocd-source.yaml": "kustomize:\n  images: [nginx:1.27]\n"}, "write-back")
    merged, _, errors = merge_source_overrides(tree(git_repo), "app", "web", {"path": "app"})
    assert not errors and merged == {"path": "app", "kustomize": {"images": ["nginx:1.27"]}}


def test_a_broken_file_is_an_error_naming_it_and_the_source_is_kept(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/.argocd-source-web.yaml": "aloi\nkustomize:\n  images: [x:1]\n"}, "broken")
    merged, _, [error] = merge_source_overrides(tree(git_repo), "app", "web", SOURCE)
    assert merged == SOURCE and error.file == "app/.argocd-source-web.yaml" and error.line == 2
    assert error.message.startswith("error while parsing source parameters")


def test_no_files_leave_the_source_alone(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/cm.yaml": "a: 1\n"}, "none")
    assert merge_source_overrides(tree(git_repo), "app", "web", SOURCE) == (SOURCE, [], [])


def test_merge_patch_is_rfc_7386() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}, "l": [1, 2]}, {"a": {"b": None, "d": 3}, "l": [3]}) == \
        {"a": {"c": 2, "d": 3}, "l": [3]}
