"""Which tool renders a source, and what ArgoCD's repo-server refuses before it picks one.

The order is the repo-server's: a symlink anywhere in the repository that is absolute or leaves it fails
every app of that repository (`CheckOutOfBoundsSymlinks`); the app path must be a directory
(`apppath.Path`); two or more tool blocks are "multiple application sources defined" (`ExplicitType`);
one block names the tool; otherwise the files directly in the path decide (`discovery.Discover`).
"""

from __future__ import annotations

import posixpath

from driftcheck.fetch.tree import Tree
from driftcheck.model.apps import Render
from driftcheck.render.kustomize import KUSTOMIZATION_NAMES

_ARGOCD_NAMES = {"kustomize": "Kustomize", "helm": "Helm", "directory": "Directory", "plugin": "Plugin"}
_OUT_OF_BOUNDS: dict[str, str | None] = {}  # tree sha -> its first out-of-bounds symlink


def source_type(tree: Tree, path: str, render: Render, argocd: bool) -> tuple[str, str]:
    """(tool, "") with tool a renderer name, or ("", ArgoCD's reason for refusing the source). argocd:
    the source is an ArgoCD Application's (driftcheck.yaml apps keep a file path and a chosen tool)."""
    if argocd:
        link = out_of_bounds_symlink(tree)
        if link is not None:
            return "", f"repository contains out-of-bounds symlinks. file: {link}"
        if not tree.is_dir(path):
            return "", f"{path}: app path is not a directory"
    if len(render.declared) > 1:
        names = ",".join(_ARGOCD_NAMES.get(t, t) for t in render.declared)
        return "", f"multiple application sources defined: {names}"
    if render.tool != "auto":
        return render.tool, ""
    if render.declared:
        return render.declared[0], ""
    return discovered(tree, path), ""


def discovered(tree: Tree, path: str) -> str:
    """ArgoCD's auto-detection over the files directly in path, visited in byte order: a name ending in
    Chart.yaml means Helm, a kustomization name Kustomize, and the last such file visited decides (so
    Kustomize wins over Chart.yaml); else a directory of manifests (also for a single file)."""
    if not tree.is_dir(path):
        return "directory"
    found = "directory"
    # byte order, as Go walks; a name that is not UTF-8 keeps its bytes (surrogateescape)
    for file in sorted(tree.list_files(path),
                       key=lambda f: posixpath.basename(f).encode("utf-8", "surrogateescape")):
        name = posixpath.basename(file)
        if name.endswith("Chart.yaml"):
            found = "helm"
        if name in KUSTOMIZATION_NAMES:
            found = "kustomize"
    return found


def out_of_bounds_symlink(tree: Tree) -> str | None:
    """The first symlink (byte order of paths) that is absolute or whose target, followed part by
    part from the link's directory, ever leaves the tree's root; None when there is none. Once per tree."""
    if tree.sha in _OUT_OF_BOUNDS:
        return _OUT_OF_BOUNDS[tree.sha]
    found = None
    for file in sorted(tree.list_files("", recurse=True)):
        target = tree.symlink_target(file)
        if target is not None and _leaves_root(file, target):
            found = file
            break
    _OUT_OF_BOUNDS[tree.sha] = found
    return found


def _leaves_root(link: str, target: str) -> bool:
    if posixpath.isabs(target):
        return True
    current = posixpath.dirname(link)
    for part in target.split("/"):
        current = posixpath.normpath(posixpath.join(current or ".", part))
        if current == ".." or current.startswith("../"):
            return True
    return False
