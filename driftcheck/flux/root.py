"""Where a Flux graph starts: `--flux PATH`, a cluster directory such as `clusters/production`.

`flux bootstrap` commits `PATH/flux-system/gotk-sync.yaml` with the `GitRepository` and the `Kustomization`
named `flux-system` that sync the cluster from PATH; when it is there (with real objects, not the
comment-only placeholder some repositories keep) those two are the root. A flux-operator `FluxInstance`
with `spec.sync` in PATH gives the root the operator makes (`instance.py`). Otherwise the root is what
bootstrap would have written: a `flux-system/flux-system` Kustomization of PATH from this repository.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from driftcheck.fetch.tree import Tree
from driftcheck.flux.instance import find_instance
from driftcheck.flux.objects import (
    KUSTOMIZE_GROUP,
    SOURCE_GROUP,
    FluxObjectError,
    Kustomization,
    SourceRef,
    git_repository,
    group_of,
    is_flux,
    kustomization,
)
from driftcheck.model import DriftcheckError, RunError
from driftcheck.render.yaml import load_manifests

BOOTSTRAP_NAMESPACE = "flux-system"
BOOTSTRAP_NAME = "flux-system"
SYNC_FILES = ("flux-system/gotk-sync.yaml", "gotk-sync.yaml")


@dataclass
class Root:
    """The root Kustomization, where it was declared, and the sources declared beside it."""

    kustomization: Kustomization
    file: str = ""  # "" = made from --flux (no gotk-sync.yaml)
    line: int = 0
    sources: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)  # (kind, body, file:line)
    errors: list[RunError] = field(default_factory=list)


def find_root(tree: Tree, path: str) -> Root:
    """The root of --flux PATH; DriftcheckError when PATH is not a directory at this commit."""
    path = posixpath.normpath(path.strip().strip("/")) if path.strip().strip("/") else ""
    path = "" if path == "." else path
    if path.startswith("../") or path == ".." or (path and not tree.is_dir(path)):
        raise DriftcheckError(f"--flux {path or '.'}: not a directory of the repository at this commit")
    synced = find_instance(tree, path)
    if synced is not None:
        return Root(synced.kustomization, synced.file, synced.line, synced.sources)
    for name in SYNC_FILES:
        sync = posixpath.join(path, name) if path else name
        if tree.exists(sync) and not tree.is_dir(sync):
            root = _from_sync(tree, sync)
            if root is not None:
                return root
    spec = {"path": f"./{path}" if path else "./",
            "sourceRef": {"kind": "GitRepository", "name": BOOTSTRAP_NAME}}
    return Root(Kustomization(BOOTSTRAP_NAMESPACE, BOOTSTRAP_NAME, spec,
                              SourceRef("GitRepository", BOOTSTRAP_NAMESPACE, BOOTSTRAP_NAME)))


def _from_sync(tree: Tree, sync: str) -> Root | None:
    """The root gotk-sync.yaml declares, or None for a file without a flux-system Kustomization."""
    docs, errors = load_manifests(tree.read(sync), sync)
    found: Root | None = None
    sources: list[tuple[str, dict[str, Any], str]] = []
    problems = list(errors)
    for body, line in docs:
        try:
            if is_flux(body, KUSTOMIZE_GROUP, "Kustomization") and found is None:
                found = Root(kustomization(body, BOOTSTRAP_NAMESPACE), sync, line)
            elif is_flux(body, SOURCE_GROUP, "GitRepository"):
                git_repository(body, BOOTSTRAP_NAMESPACE)  # a malformed one is an error here
                sources.append(("GitRepository", body, f"{sync}:{line}"))
            elif group_of(body)[0] == SOURCE_GROUP and isinstance(body.get("kind"), str):
                sources.append((str(body["kind"]), body, f"{sync}:{line}"))
        except FluxObjectError as e:
            problems.append(RunError(str(e), file=sync, line=line, stage="source"))
    if found is None:
        if problems:
            raise DriftcheckError(f"{sync}: {problems[0].message} (the Flux root is not readable)")
        return None
    found.sources, found.errors = sources, problems
    return found
