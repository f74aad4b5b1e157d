"""Shapes onedr0p/home-ops (the issue's real-world sample) uses, each built as Flux builds it."""

from __future__ import annotations

from typing import Any

from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.sources import SourceTrees
from driftcheck.fetch.tree import CommitTree
from driftcheck.flux.graph import build_graph

KS = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
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

# An anchor defined twice (`&name`): valid YAML, go-yaml lets the later definition win.
REUSED_ANCHOR = """\
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: &app env
  namespace: default
data:
  app: *app
  first: &name CF_API_TOKEN
  first-again: *name
  second: &name CF_ZONE_ID
  second-again: *name
"""


def graph_of(git_repo: Any, files: dict[str, str]) -> Any:
    git_repo.commit(files, "flux")
    repo = open_repo(str(git_repo.path))
    tree = CommitTree(repo, resolve_commit(repo, None, None))
    return build_graph(SourceTrees(tree), "clusters/dev", set())


def test_a_reused_anchor_builds_with_the_later_definition_and_is_traced_to_its_file(git_repo: Any) -> None:
    graph = graph_of(git_repo, {
        "clusters/dev/ks.yaml": KS.format(name="generated", path="./apps/generated")
        + "---\n" + KS.format(name="listed", path="./apps/listed"),
        "apps/generated/cm.yaml": REUSED_ANCHOR,  # no kustomization.yaml: Flux generates one
        "apps/listed/kustomization.yaml": "resources: [./cm.yaml]\n",
        "apps/listed/cm.yaml": REUSED_ANCHOR,
    })
    assert [e.message for e in graph.errors] == []
    for name in ("flux-system/generated", "flux-system/listed"):
        rendered = graph.rendered[name]
        assert rendered.errors == []
        [cm] = rendered.resources
        assert cm.body["data"] == {"app": "env", "first": "CF_API_TOKEN", "first-again": "CF_API_TOKEN",
                                   "second": "CF_ZONE_ID", "second-again": "CF_ZONE_ID"}
        assert (cm.origin.file, cm.origin.line) == (f"apps/{name.split('/')[1]}/cm.yaml", 2)
