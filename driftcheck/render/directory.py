"""Directory apps: the manifest files of a path (or the one file it names), read as ArgoCD reads them."""

from __future__ import annotations

import posixpath
from collections.abc import Callable

import git

from driftcheck.fetch.tree import Tree
from driftcheck.model import DirectoryOptions, DriftcheckError, Origin, Render, RunError
from driftcheck.render.glob import DirectoryGlob
from driftcheck.render.renderer import Document, Output, Target
from driftcheck.render.yaml import load_manifests

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
LFS_POINTER = b"version https://git-lfs.github.com/spec/"


def render(tree: Tree, path: str, options: Render, target: Target, timeout: float) -> Output:
    """The documents of every manifest under path (path itself when it is a file); no process runs,
    so timeout is not needed."""
    out = Output()
    if not tree.is_dir(path):
        files = [path]
    else:
        chosen = _directory_filter(options.directory, path)
        files = [f for f in tree.list_files(path, recurse=options.directory.recurse)
                 if f.endswith(MANIFEST_SUFFIXES) and chosen(f)]
    for file in files:
        _read_file(tree, file, out)
    return out


def _directory_filter(directory: DirectoryOptions, path: str) -> Callable[[str], bool]:
    """ArgoCD's directory.include / directory.exclude, matched against the path relative to the app's
    directory (see `argocd.DirectoryGlob`)."""
    include = DirectoryGlob(directory.include) if directory.include else None
    exclude = DirectoryGlob(directory.exclude) if directory.exclude else None

    def chosen(file: str) -> bool:
        rel = posixpath.relpath(file, path) if path else file
        return not (exclude and exclude.match(rel)) and not (include and not include.match(rel))
    return chosen


def _read_file(tree: Tree, file: str, out: Output) -> None:
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
            return
        file = target
    try:
        data = tree.read(file)
    except (DriftcheckError, git.GitError, OSError, ValueError) as e:
        out.errors.append(RunError(f"cannot read: {e}", file=file))
        return
    if data.startswith(LFS_POINTER):  # its YAML is one scalar, which would vanish without a word
        out.errors.append(RunError("file is a Git LFS pointer: the manifest itself is stored outside Git, "
                                   "and driftcheck reads only what Git holds", file=file, line=1))
        return
    docs, errors = load_manifests(data, file)
    out.errors.extend(errors)
    out.documents.extend(Document(body, Origin("git", file, line, tree.sha)) for body, line in docs)
