"""Which files an app reads at one commit of the walk, and which changes may alter that set.

The app is its path; the files it reads are what its layout says there: the kustomization graph
(resources, bases, components, patches, generator inputs, ... also outside the app path) when the path
holds a kustomization, the chart directory and its values files for Helm, else the manifests of the
directory (recursively with `recurse`). The walk follows these files through renames, and when the
app's path itself is missing from a parent commit, `parent_root` finds where the commit moved it from.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from driftcheck.fetch.gitobjects import LogCommit, ObjectReader
from driftcheck.model import DriftcheckError
from driftcheck.render import kustomize
from driftcheck.render.directory import MANIFEST_SUFFIXES
from driftcheck.render.helm import values_file_path


class HistoryApp(Protocol):
    """The fields of an app history reads (AppSpec and App both have them)."""

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def recurse(self) -> bool: ...
    @property
    def values_files(self) -> list[str]: ...


@dataclass(frozen=True)
class FileRole:
    """Why the app reads a file: its objects (`resource`), its build (`kustomization`) or an input (`aux`)."""

    kind: Literal["resource", "kustomization", "aux"]
    namespace: str = ""  # Kustomize `namespace:` that overrides the objects' own
    chain: tuple[str, ...] = ()  # kustomization files that include it, outermost first


def read_set(tree: dict[str, str], blobs: ObjectReader, app: HistoryApp, root: str,
             kustomization: Callable[[str], dict[str, Any]]) -> tuple[dict[str, FileRole], set[str]]:
    """The files the app's layout reads in `tree` (path -> blob id), and the paths whose change alters that.

    Kustomize inputs come from source.kustomize's static walk; a file's kustomizations (for
    namespace/images/replicas, read through `kustomization`) are those whose own walk reaches it,
    outermost (widest) first.
    """
    view = TreeView(tree, blobs)
    files: dict[str, FileRole] = {}
    if root in tree:
        files[root] = FileRole("resource")
    elif kustomize.kustomization_file(view, root):
        found = kustomize.inputs(view, root)
        kfiles = [f for f in found.files if posixpath.basename(f) in kustomize.KUSTOMIZATION_NAMES]
        reach = {k: set(kustomize.inputs(view, posixpath.dirname(k)).files) for k in kfiles}
        manifests = set(found.manifests)
        for path in found.files:
            chain = tuple(sorted((k for k in kfiles if path in reach[k]), key=lambda k: -len(reach[k])))
            namespaces = (str(kustomization(k).get("namespace") or "") for k in chain)
            namespace = next((ns for ns in namespaces if ns), "")
            kind: Literal["resource", "kustomization", "aux"] = (
                "kustomization" if path in reach else "resource" if path in manifests else "aux")
            files[path] = FileRole(kind, namespace, chain)
    elif posixpath.join(root, "Chart.yaml") in tree:
        files.update({p: FileRole("aux") for p in _list(tree, root, recurse=True)})
        for values in app.values_files:
            values_path = values_file_path(root, values)  # where the renderer reads it
            if values_path is not None and values_path in tree:
                files[values_path] = FileRole("aux")
    else:
        files.update({p: FileRole("resource") for p in _list(tree, root, app.recurse)
                      if p.endswith(MANIFEST_SUFFIXES)})
    return files, {root} | {posixpath.dirname(p) for p in files}


def _list(tree: dict[str, str], root: str, recurse: bool) -> list[str]:
    prefix = f"{root}/" if root else ""
    return [p for p in tree if p.startswith(prefix) and (recurse or "/" not in p[len(prefix):])]


def structural(commit: LogCommit, files: dict[str, FileRole], watched: set[str]) -> bool:
    """Whether the commit may change which files the app reads (else only their content changed)."""
    prefixes = tuple(f"{w}/" for w in watched if w) if "" not in watched else ("",)
    for change in commit.changes:
        if change.status in ("M", "T"):
            role = files.get(change.new or "")
            if role is not None and role.kind == "kustomization":
                return True
            continue
        for path in (change.old, change.new):
            if path and (path in watched or path.startswith(prefixes)):
                return True
    return False


def parent_root(tree: dict[str, str], root: str, commit: LogCommit) -> str:
    """The app's path in the parent `tree`: the same, or where the commit's renames brought it from."""
    prefix = f"{root}/" if root else ""
    if root in tree or any(p.startswith(prefix) for p in tree):
        return root
    origins: Counter[str] = Counter()
    for change in commit.changes:
        if change.status == "R" and change.old and change.new and change.new.startswith(prefix):
            rest = change.new[len(prefix):]
            if change.old == rest:
                origins[""] += 1
            elif change.old.endswith(f"/{rest}"):
                origins[change.old[:-len(rest) - 1]] += 1
    return origins.most_common(1)[0][0] if origins else root


class TreeView:
    """The rewound in-memory tree seen through CommitTree's reading interface, for source.kustomize."""

    def __init__(self, tree: dict[str, str], blobs: ObjectReader) -> None:
        self.tree = tree
        self.blobs = blobs
        self._dirs: set[str] | None = None

    def exists(self, path: str) -> bool:
        return norm(path) in self.tree or self.is_dir(path)

    def is_dir(self, path: str) -> bool:
        if self._dirs is None:
            self._dirs = {""}
            for file in self.tree:
                cut = file.rfind("/")
                while cut > 0 and file[:cut] not in self._dirs:
                    self._dirs.add(file[:cut])
                    cut = file.rfind("/", 0, cut)
        return norm(path) in self._dirs

    def read(self, path: str) -> bytes:
        blob = self.tree.get(norm(path))
        if blob is None:
            raise DriftcheckError(f"{path}: no such file")
        return self.blobs.read(blob)


def norm(path: str) -> str:
    """A repository path as the tree keys it: no leading or trailing `/`, '' for the root."""
    path = posixpath.normpath(path.strip().strip("/")) if path.strip().strip("/") else ""
    return "" if path == "." else path
