"""Rendering one app at one commit into desired objects: plain directories, Kustomize or Helm.

The kind of app follows from what its path holds, as ArgoCD decides it: a kustomization file means
Kustomize, a Chart.yaml means Helm, anything else is a directory of manifests.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import git

from driftcheck import kube
from driftcheck.model import AppSpec, DriftcheckError, Origin, Resource, ResourceKey, RunError
from driftcheck.source import helm, kustomize
from driftcheck.source.argocd import DirectoryGlob
from driftcheck.source.kinds import key_of
from driftcheck.source.tree import CommitTree
from driftcheck.source.yamlload import load_manifests

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
LFS_POINTER = b"version https://git-lfs.github.com/spec/"


@dataclass
class Rendered:
    """What one app renders to at one commit, and what went wrong doing it."""

    app: AppSpec
    resources: list[Resource] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)  # repository paths the render depends on
    skipped_documents: int = 0  # YAML documents without apiVersion/kind (not Kubernetes objects)
    renderer: str = ""  # directory | kustomize | helm
    _index: dict[ResourceKey, Resource] = field(default_factory=dict, repr=False)


def render_app(tree: CommitTree, app: AppSpec, timeout: float = 120) -> Rendered:
    """Desired objects of app at tree's commit; errors carry the app's name and never raise."""
    path = _norm(app.path)
    out = Rendered(app)
    if not tree.exists(path):
        out.errors.append(RunError(f"path {path or '.'} does not exist at commit {tree.sha[:12]}",
                                   app=app.name, file=path, stage="render"))
        return out
    if not tree.is_dir(path):
        out.renderer = "directory"
        _add_file(tree, app, path, out)
    elif kustomize.kustomization_file(tree, path):
        out.renderer = "kustomize"
        kustomize.render(tree, app, path, out, timeout)
    elif tree.exists(posixpath.join(path, "Chart.yaml")):
        out.renderer = "helm"
        helm.render(tree, app, path, out, timeout)
    else:
        out.renderer = "directory"
        chosen = _directory_filter(app, path)
        for file in tree.list_files(path, recurse=app.recurse):
            if file.endswith(MANIFEST_SUFFIXES) and chosen(file):
                _add_file(tree, app, file, out)
    for err in out.errors:
        err.app = err.app or app.name
        err.stage = err.stage or "render"
    return out


def _directory_filter(app: AppSpec, path: str) -> Callable[[str], bool]:
    """ArgoCD's directory.include / directory.exclude, matched against the path relative to the app's
    directory (see `argocd.DirectoryGlob`)."""
    directory = app.source_options.get("directory") or {}
    include = DirectoryGlob(str(directory["include"])) if directory.get("include") else None
    exclude = DirectoryGlob(str(directory["exclude"])) if directory.get("exclude") else None

    def chosen(file: str) -> bool:
        rel = posixpath.relpath(file, path) if path else file
        return not (exclude and exclude.match(rel)) and not (include and not include.match(rel))
    return chosen


def _add_file(tree: CommitTree, app: AppSpec, file: str, out: Rendered) -> None:
    out.files_read.append(file)
    link = tree.symlink_target(file)
    if link is not None:
        # Reading the link's blob would parse its target path as YAML; following it could leave the repo.
        # Like ArgoCD, a link to a regular file inside the repository is read; anything else is reported.
        target = posixpath.normpath(posixpath.join(posixpath.dirname(file), link))
        if posixpath.isabs(link) or target == ".." or target.startswith("../") \
                or tree.symlink_target(target) is not None or not tree.exists(target) or tree.is_dir(target):
            out.errors.append(RunError(f"symlink to {link!r} is not followed (it does not lead to a file "
                                       "inside the repository)", app=app.name, file=file))
            return
        file = target
    try:
        data = tree.read(file)
    except (DriftcheckError, git.GitError, OSError, ValueError) as e:
        out.errors.append(RunError(f"cannot read: {e}", app=app.name, file=file))
        return
    if data.startswith(LFS_POINTER):  # its YAML is one scalar, which would vanish without a word
        out.errors.append(RunError("file is a Git LFS pointer: the manifest itself is stored outside Git, "
                                   "and driftcheck reads only what Git holds", app=app.name, file=file,
                                   line=1))
        return
    docs, errors = load_manifests(data, file)
    out.errors.extend(errors)
    for body, line in docs:
        add_object(out, body, Origin("git", file, line, tree.sha))


def add_object(out: Rendered, body: dict[str, Any], origin: Origin) -> None:
    """Key one rendered body into out. Bodies without apiVersion/kind (not Kubernetes objects) and
    generateName objects are counted as skipped; nameless objects, names or namespaces Kubernetes would
    refuse, and duplicates are errors."""
    if not body.get("apiVersion") or not body.get("kind"):
        out.skipped_documents += 1
        return
    meta: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
    if not meta.get("name"):
        if meta.get("generateName"):  # a new object each sync (hooks, Jobs): no identity to compare
            out.skipped_documents += 1
        else:
            out.errors.append(RunError(f"{body['kind']} without metadata.name", app=out.app.name,
                                       file=origin.file, line=origin.line))
        return
    key = key_of(body, out.app.namespace)
    problem = _invalid_identity(body, key)
    if problem:
        out.errors.append(RunError(f"{body['kind']} {str(meta['name'])!r:.80}: {problem}; not compared",
                                   app=out.app.name, file=origin.file, line=origin.line))
        return
    other = out._index.get(key)
    if other is not None:
        out.errors.append(RunError(
            f"{key} is defined twice (also at {other.origin.file}:{other.origin.line}); the first is used",
            app=out.app.name, file=origin.file, line=origin.line, resource=str(key)))
        return
    out._index[key] = Resource(key, str(body["apiVersion"]), body, origin)
    out.resources.append(out._index[key])


def _invalid_identity(body: dict[str, Any], key: ResourceKey) -> str | None:
    """Why the object's name or namespace is one Kubernetes could never hold (such a value would end up
    in API request paths), else None."""
    reason = kube.invalid_name(key.kind, key.name)
    if reason:
        return f"metadata.name {reason}"
    if key.namespace:
        reason = kube.invalid_namespace(key.namespace)
        own = isinstance(body.get("metadata"), dict) and body["metadata"].get("namespace")
        return f"{'metadata.namespace' if own else 'the destination namespace'} {reason}" if reason else None
    return None


def _norm(path: str) -> str:
    p = posixpath.normpath(path.strip()) if path.strip() else ""
    return "" if p in (".", "/") else p.strip("/")
