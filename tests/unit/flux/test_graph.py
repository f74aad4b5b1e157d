"""The Flux graph on crafted repositories: a cycle is one error naming both Kustomizations, a removed API
version is an error naming the object and file, and images merge by name as Flux's generator merges."""

from __future__ import annotations

from typing import Any

from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.sources import SourceTrees
from driftcheck.fetch.tree import CommitTree
from driftcheck.flux.generator import merge_images
from driftcheck.flux.graph import build_graph

KS = """\
apiVersion: kustomize.toolkit.fluxcd.io/{version}
kind: Kustomization
metadata:
  name: {name}
  namespace: flux-system
spec:
  path: {path}
  sourceRef:
    kind: GitRepository
    name: flux-system
"""


def graph_of(git_repo: Any, files: dict[str, str]) -> Any:
    git_repo.commit(files, "flux")
    repo = open_repo(str(git_repo.path))
    tree = CommitTree(repo, resolve_commit(repo, None, None))
    return build_graph(SourceTrees(tree), "clusters/dev", set())


def test_a_child_that_renders_its_ancestor_is_a_cycle_naming_both(git_repo: Any) -> None:
    graph = graph_of(git_repo, {
        "clusters/dev/a.yaml": KS.format(version="v1", name="a", path="./apps/a"),
        "apps/a/b.yaml": KS.format(version="v1", name="b", path="./apps/b"),
        "apps/b/a.yaml": KS.format(version="v1", name="a", path="./apps/a"),  # b renders a again
    })
    assert sorted(a.name for a in graph.apps) == ["flux-system/a", "flux-system/b", "flux-system/flux-system"]
    cycles = [e for e in graph.errors if "cycle" in e.message]
    assert len(cycles) == 1
    assert "flux-system/b renders Kustomization flux-system/a" in cycles[0].message
    assert "flux-system/a → flux-system/b → flux-system/a" in cycles[0].message
    assert cycles[0].file == "apps/b/a.yaml"


def test_a_removed_api_version_is_an_error_naming_the_object(git_repo: Any) -> None:
    graph = graph_of(git_repo, {
        "clusters/dev/old.yaml": KS.format(version="v1beta1", name="old", path="./apps/old"),
        "clusters/dev/new.yaml": KS.format(version="v1", name="new", path="./apps/new"),
        "apps/new/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: x\n",
    })
    assert sorted(a.name for a in graph.apps) == ["flux-system/flux-system", "flux-system/new"]
    [error] = [e for e in graph.errors if "v1beta1" in e.message]
    assert "Kustomization flux-system/old" in error.message and "removed in kustomize-controller 1.7" in \
        error.message
    assert error.file == "clusters/dev/old.yaml"
    assert len(graph.rendered["flux-system/new"].resources) == 1


def test_images_merge_by_name_tag_and_digest_as_a_pair() -> None:
    own = [{"name": "a", "newTag": "1", "newName": "reg/a"}, {"name": "b", "digest": "sha256:x"}]
    merged = merge_images(own, [{"name": "a", "digest": "sha256:y"}, {"name": "b", "newName": "reg/b"},
                                {"name": "c", "newTag": "3"}])
    assert merged == [{"name": "a", "newName": "reg/a", "digest": "sha256:y"},
                      {"name": "b", "digest": "sha256:x", "newName": "reg/b"}, {"name": "c", "newTag": "3"}]
