"""Directory apps: the manifest files of a path (or the one file it names), read as ArgoCD reads them.

As `findManifests`: `*.yaml`, `*.yml`, `*.json` and `*.jsonnet` files (include/exclude applied), any
file containing `+argocd:skip-file-rendering` left out, a repeated mapping key read as sigs.k8s.io/yaml
reads it (the later value, with a warning), Jsonnet evaluated by `render.jsonnet`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

import git

from driftcheck.fetch.tree import Tree
from driftcheck.model import DirectoryOptions, DriftcheckError, Origin, Render, RunError
from driftcheck.render import jsonnet
from driftcheck.render.argocd_env import build_env
from driftcheck.render.glob import DirectoryGlob
from driftcheck.render.renderer import Document, Output, Target
from driftcheck.render.yaml import load_manifests

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json", ".jsonnet")
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
SKIP_MARKER = b"+argocd:skip-file-rendering"  # ArgoCD 3.1+: a file holding it anywhere is not read


def render(tree: Tree, path: str, options: Render, target: Target, timeout: float) -> Output:
    """The documents of every manifest under path (path itself when it is a file); no process runs,
    so timeout is not needed."""
    out = Output()
    files = manifest_files(tree, path, options)
    programs: dict[str, int] = {}  # jsonnet file -> where its objects go in out.documents
    for file in files:
        if file.endswith(".jsonnet"):
            if _read(tree, file, out) is not None:
                programs[file] = len(out.documents)
        else:
            _read_file(tree, file, out)
    if programs:
        _evaluate(tree, path, programs, options.directory, target, timeout, out)
    return out


def manifest_files(tree: Tree, path: str, options: Render) -> list[str]:
    """The files the directory source at path reads, in reading order (path itself when it is a file)."""
    if not tree.is_dir(path):
        return [path]
    chosen = _directory_filter(options.directory, path)
    return [f for f in tree.list_files(path, recurse=options.directory.recurse)
            if f.endswith(MANIFEST_SUFFIXES) and chosen(f)]


def _evaluate(tree: Tree, path: str, programs: dict[str, int], directory: DirectoryOptions, target: Target,
              timeout: float, out: Output) -> None:
    """The objects of each jsonnet file, put where the file came in the walk."""
    env = build_env(target.app, target.namespace, tree.sha, path)
    with tree.exported() as (root, export_errors):
        out.errors.extend(e for e in export_errors if e.file.startswith(f"{path}/") or not path)
        try:
            results = jsonnet.evaluate(root, path, list(programs), directory.jsonnet, env, timeout)
        except jsonnet.JsonnetError as e:
            out.errors.append(RunError(str(e), app=target.app, file=next(iter(programs))))
            return
    for result in reversed(results):  # from the end, so the earlier insertion points stay valid
        if result.error:
            out.errors.append(RunError(result.error, app=target.app, file=result.file))
        documents = [Document(body, Origin("git", result.file, 0, tree.sha)) for body in result.objects]
        out.documents[programs[result.file]:programs[result.file]] = documents


def _directory_filter(directory: DirectoryOptions, path: str) -> Callable[[str], bool]:
    """ArgoCD's directory.include / directory.exclude, matched against the path relative to the app's
    directory (see `argocd.DirectoryGlob`)."""
    include = DirectoryGlob(directory.include) if directory.include else None
    exclude = DirectoryGlob(directory.exclude) if directory.exclude else None

    def chosen(file: str) -> bool:
        rel = posixpath.relpath(file, path) if path else file
        return not (exclude and exclude.match(rel)) and not (include and not include.match(rel))
    return chosen


def _read(tree: Tree, file: str, out: Output) -> tuple[str, bytes] | None:
    """The path and bytes of a manifest file (a symlink's target inside the repository), or None when it
    is not read: an error is in out, or it carries ArgoCD's skip marker."""
    out.files_read.append(file)
    link = tree.symlink_target(file)
    if link is not None:
        # Reading the link's blob would parse its target path as YAML; following it could leave the repo.
        # Like ArgoCD, a link to a regular file inside the repository is read; anything else is reported.
        target = posixpath.normpath(posixpath.join(posixpath.dirname(file), link))
        if posixpath.isabs(link) or target == ".." or target.startswith("../") \
                or tree.symlink_target(target) is not None or not tree.exists(target) or tree.is_dir(target):
            out.errors.append(RunError(f"symlink to {link!r} is not followed (it does not lead to a file "
                                       "inside the repository)", file=file))
            return None
        file = target
    try:
        data = tree.read(file)
    except (DriftcheckError, git.GitError, OSError, ValueError) as e:
        out.errors.append(RunError(f"cannot read: {e}", file=file))
        return None
    if data.startswith(LFS_POINTER):  # its YAML is one scalar, which would vanish without a word
        out.errors.append(RunError("file is a Git LFS pointer: the manifest itself is stored outside Git, "
                                   "and driftcheck reads only what Git holds", file=file, line=1))
        return None
    return None if SKIP_MARKER in data else (file, data)


def _read_file(tree: Tree, file: str, out: Output) -> None:
    read = _read(tree, file, out)
    if read is None:
        return
    file, data = read
    docs, errors = load_manifests(data, file, duplicate_keys="last")
    out.errors.extend(errors)
    out.documents.extend(Document(body, Origin("git", file, line, tree.sha)) for body, line in docs)
