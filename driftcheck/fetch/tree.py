"""The Tree seam, and its Git implementation: the files of one source at one revision.

Renderers and history read a `Tree` (a Protocol), never Git, so a chart archive or an OCI artifact can be
another kind of Tree. `CommitTree` reads one commit straight from Git objects (no checkout; bare
repositories work): the work tree, the index and HEAD are never touched.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import shutil
import stat
import tempfile
import weakref
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import git

from driftcheck.fetch.gitobjects import MissingObject, ObjectReader
from driftcheck.model import DriftcheckError, RunError
from driftcheck.textsafe import for_terminal


class FileReader(Protocol):
    """The least a static walk needs (kustomize's input graph, history's rewound trees)."""

    def exists(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def read(self, path: str) -> bytes:
        """The file's bytes; DriftcheckError when absent or a directory."""
        ...


class Tree(FileReader, Protocol):
    """Repository-relative paths with `/` separators; nothing outside the tree is ever reachable."""

    @property
    def sha(self) -> str:
        """The revision's identity (a commit or a digest), for origins and messages."""
        ...

    @property
    def date(self) -> str:
        """ISO-8601 date of the revision."""
        ...

    def list_files(self, path: str = "", recurse: bool = False) -> list[str]:
        """Regular files (and symlinks) under path, sorted."""
        ...

    def symlink_target(self, path: str) -> str | None:
        """Where a symlink points, as stored (never resolved); None for anything else."""
        ...

    def refused(self, path: str = "") -> list[RunError]:
        """Entries under path left out because a checkout would refuse them, one error each."""
        ...

    def export(self, dest: Path, path: str = "") -> list[RunError]:
        """Write the files under path into dest; nothing is written outside it."""
        ...

    def exported(self, private: bool = False) -> AbstractContextManager[tuple[Path, list[RunError]]]:
        """The whole tree on disk for a renderer binary, with the export's errors; private for a copy
        the caller may edit."""
        ...


log = logging.getLogger(__name__)

_KIND = 0o170000
_TREE, _FILE, _SYMLINK, _SUBMODULE = 0o040000, 0o100000, 0o120000, 0o160000
# Code points HFS+ ignores in names (so ".g\u200cit" is ".git" there), as git's is_hfs_dotgit does.
_HFS_IGNORED = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")
_DOTGIT = {".git", "git~1"}  # git~1: the NTFS short name of .git
_NO_SYMLINK = {".gitmodules", ".gitattributes", ".gitignore", ".mailmap"}


@dataclass(frozen=True)
class _Node:
    """One entry of a tree object as Git stores it."""

    mode: int
    sha: str

    @property
    def kind(self) -> int:
        return self.mode & _KIND


class CommitTree:
    """The file tree of one commit. Paths are repository-relative with `/` separators.

    Tree objects are parsed here rather than by GitPython, so that an entry Git's own checkout would
    refuse (`..`, `.git`, a duplicate name: see `_refusal`) is left out and reported instead of being
    followed or ending the run.
    """

    def __init__(self, repo: git.Repo, commit: git.Commit) -> None:
        self.repo = repo
        self.commit = commit
        self.sha: str = commit.hexsha
        # ISO-8601 with the committer's own offset, e.g. 2026-01-20T16:29:44+09:00
        self.date: str = commit.committed_datetime.isoformat()
        self._root = _Node(_TREE, commit.tree.hexsha)
        # directory path -> {name: entry}: each tree object is parsed once, not once per path looked up
        self._children: dict[str, dict[str, _Node]] = {}
        self._refused: dict[str, dict[str, str]] = {}  # directory path -> {entry path: why refused}
        self._shared: tuple[Path, list[RunError]] | None = None

    def _entry(self, path: str) -> _Node | None:
        path = _norm(path)
        if not path:
            return self._root
        parent, _, name = path.rpartition("/")
        tree = self._entry(parent)
        return self._list(parent, tree).get(name) if tree is not None and tree.kind == _TREE else None

    def _list(self, path: str, tree: _Node) -> dict[str, _Node]:
        children = self._children.get(path)
        if children is None:
            stream = self.repo.odb.stream(bytes.fromhex(tree.sha))
            data = stream.read()
            children, refused = _parse_tree(data, path) if stream.type == b"tree" else ({}, {
                path or ".": "a tree entry that is not a tree object"})
            self._children[path], self._refused[path] = children, refused
        return children

    def _walk(self, path: str, tree: _Node, recurse: bool) -> Iterator[tuple[str, _Node]]:
        for name, node in self._list(path, tree).items():
            child = f"{path}/{name}" if path else name
            yield child, node
            if recurse and node.kind == _TREE:
                yield from self._walk(child, node, recurse)

    def _blob(self, path: str) -> bytes | None:
        entry = self._entry(path)
        if entry is None or entry.kind not in (_FILE, _SYMLINK):
            return None
        data: bytes = self.repo.odb.stream(bytes.fromhex(entry.sha)).read()
        return data

    def exists(self, path: str) -> bool:
        return self._entry(path) is not None

    def is_dir(self, path: str) -> bool:
        entry = self._entry(path)
        return entry is not None and entry.kind == _TREE

    def symlink_target(self, path: str) -> str | None:
        """Where a symlink at path points (as stored in Git, never resolved); None for anything else."""
        entry = self._entry(path)
        if entry is None or entry.kind != _SYMLINK:
            return None
        return (self._blob(path) or b"").decode("utf-8", "surrogateescape")

    def read(self, path: str) -> bytes:
        """The bytes of a file at this commit; DriftcheckError when absent or a directory."""
        data = self._blob(path)
        if data is None:
            raise DriftcheckError(f"{path}: no such file at commit {self.sha[:12]}")
        return data

    def list_files(self, path: str = "", recurse: bool = False) -> list[str]:
        """Regular files (and symlinks) under path, sorted; the whole subtree when recurse."""
        base = _norm(path)
        tree = self._entry(base)
        if tree is None or tree.kind != _TREE:
            return []
        return sorted(p for p, node in self._walk(base, tree, recurse) if node.kind in (_FILE, _SYMLINK))

    def refused(self, path: str = "") -> list[RunError]:
        """The entries under path (as far as it has been read) that were left out, one error each."""
        base = _norm(path)
        return [RunError(f"not exported: {why} (commit {self.sha[:12]}); Git refuses to check it out",
                         file=_shown(entry), stage="source")
                for directory, entries in sorted(self._refused.items()) if _under(directory, base)
                for entry, why in sorted(entries.items())]

    @contextmanager
    def exported(self, private: bool = False) -> Iterator[tuple[Path, list[RunError]]]:
        """The whole tree on disk for kustomize/helm, with the export's errors.

        By default one export per CommitTree serves every app (builds only read it; it is removed when
        the CommitTree goes away). private gives a throwaway copy for a caller that edits files.
        """
        if private:
            with tempfile.TemporaryDirectory(prefix="driftcheck-export-") as tmp:
                yield Path(tmp) / "repo", self.export(Path(tmp) / "repo")
            return
        if self._shared is None:
            tmp = tempfile.mkdtemp(prefix="driftcheck-export-")
            weakref.finalize(self, shutil.rmtree, tmp, True)
            self._shared = (Path(tmp) / "repo", self.export(Path(tmp) / "repo"))
        yield self._shared

    def export(self, dest: Path, path: str = "") -> list[RunError]:
        """Write the files under path (the whole tree by default) into dest, keeping their relative paths.

        Nothing is written outside dest: entries Git would refuse are left out (see `refused`), every
        write first checks where its directory really is, and symlinks are made only after all files,
        and kept only when they resolve inside dest, so a build can never read outside what Git holds.
        Submodules are reported too (their content is not in this repository).
        """
        base = _norm(path)
        root = self._entry(base)
        if root is None or root.kind != _TREE:
            raise DriftcheckError(f"{path or '.'}: no such directory at commit {self.sha[:12]}")
        dest.mkdir(parents=True, exist_ok=True)
        root_real = Path(os.path.realpath(dest))
        entries = list(self._walk(base, root, recurse=True))
        errors = self.refused(base)
        for refusal in errors:  # said once per commit: an app's report keeps only what its own build reads
            log.warning("%s", refusal)
        errors += [RunError("submodule not exported (its files are in another repository)", file=_shown(p),
                            stage="source") for p, node in entries if node.kind == _SUBMODULE]
        files = [(p, node) for p, node in entries if node.kind in (_FILE, _SYMLINK)]
        links: list[tuple[Path, str, str]] = []
        contents = self._blob_contents([node.sha for _, node in files])
        for (repo_path, node), data in zip(files, contents, strict=True):
            target = dest / (posixpath.relpath(repo_path, base) if base else repo_path)
            if node.kind == _SYMLINK:
                links.append((target, data.decode("utf-8", "surrogateescape"), repo_path))
                continue
            problem = _write(target, data, node.mode, root_real)
            if problem:
                errors.append(RunError(problem, file=_shown(repo_path), stage="source"))
        made = []
        for target, link, repo_path in links:
            problem = _link(target, link, root_real)
            if problem:
                errors.append(RunError(problem, file=_shown(repo_path), stage="source"))
            else:
                made.append((target, link, repo_path))
        # Checked once all links exist, since a link may lead through another one.
        for target, link, repo_path in made:
            if not _inside(Path(os.path.realpath(target)), root_real):
                target.unlink()
                errors.append(RunError(f"symlink to {for_terminal(repr(link))} points outside the exported "
                                       "tree; not followed", file=_shown(repo_path), stage="source"))
        return errors

    def _blob_contents(self, shas: list[str]) -> Iterator[bytes]:
        """Blob contents in order, from one `git cat-file --batch` (a read per blob costs ~2 ms)."""
        if not shas:
            return
        with ObjectReader(self.repo.git_dir) as reader:
            try:
                yield from reader.contents(shas)
            except MissingObject:
                raise DriftcheckError(f"git cat-file could not read objects of commit {self.sha[:12]}"
                                      ) from None


def _norm(path: str) -> str:
    """Repository-relative path without leading ./ or trailing /; '' for the root."""
    p = posixpath.normpath(path.strip().replace(os.sep, "/")) if path.strip() else ""
    return "" if p in (".", "/") else p.lstrip("/")


def _parse_tree(data: bytes, path: str) -> tuple[dict[str, _Node], dict[str, str]]:
    """The entries of one raw tree object that may be checked out, and why each other one may not."""
    entries: list[tuple[str, _Node]] = []
    pos = 0
    try:
        while pos < len(data):
            space = data.index(b" ", pos)
            nul = data.index(b"\0", space)
            if nul + 21 > len(data):
                raise ValueError("truncated entry")
            name = data[space + 1:nul].decode("utf-8", "surrogateescape")
            entries.append((name, _Node(int(data[pos:space], 8), data[nul + 1:nul + 21].hex())))
            pos = nul + 21
    except ValueError:
        return {}, {path or ".": "a malformed tree object"}
    counts = Counter(name for name, _ in entries)
    children: dict[str, _Node] = {}
    refused: dict[str, str] = {}
    for name, node in entries:
        why = _refusal(name, node.mode) or ("a name that appears twice in one tree" if counts[name] > 1
                                            else None)
        if why:
            refused[f"{path}/{name}" if path else name] = why
        else:
            children[name] = node
    return children, refused


def _refusal(name: str, mode: int) -> str | None:
    """Why Git's checkout (verify_path, with core.protectNTFS and core.protectHFS) would refuse this entry
    name; None when it is an ordinary name."""
    if not name:
        return "an empty name"
    if "/" in name:
        return "a name holding '/'"
    if mode & _KIND not in (_TREE, _FILE, _SYMLINK, _SUBMODULE):
        return f"an entry of unknown mode {mode:o}"
    for piece in name.split("\\"):  # NTFS takes a backslash for a directory separator
        if piece in (".", ".."):
            return f"a {piece!r} path component"
        if _as_stored_on_disk(piece) in _DOTGIT:
            return f"a {for_terminal(repr(piece))} component (the repository's own .git on NTFS or HFS+)"
    if mode & _KIND == _SYMLINK and _as_stored_on_disk(name) in _NO_SYMLINK:
        return f"a symlinked {_as_stored_on_disk(name)}"
    return None


def _as_stored_on_disk(piece: str) -> str:
    """The name a case-insensitive filesystem would compare: HFS+ ignorables dropped, case folded, an NTFS
    stream suffix (`.git::$INDEX_ALLOCATION`) and trailing dots and spaces removed."""
    return _HFS_IGNORED.sub("", piece).casefold().split(":", 1)[0].rstrip(" .")


def _write(target: Path, data: bytes, mode: int, root: Path) -> str | None:
    """Write one regular file unless its directory really lies outside root; why not, or None."""
    if not _inside(Path(os.path.realpath(target.parent)), root):
        return "would be written outside the exported tree; not exported"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if mode & stat.S_IXUSR:
                os.fchmod(out.fileno(), 0o755)
    except OSError as e:
        return f"cannot be exported: {e.strerror or e}"
    return None


def _link(target: Path, link: str, root: Path) -> str | None:
    """Make one symlink unless its directory really lies outside root; why not, or None."""
    if not _inside(Path(os.path.realpath(target.parent)), root):
        return "would be written outside the exported tree; not exported"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link, target)
    except (OSError, ValueError) as e:
        return f"symlink cannot be exported: {getattr(e, 'strerror', None) or e}"
    return None


def _inside(real: Path, root: Path) -> bool:
    return real == root or root in real.parents


def _under(directory: str, base: str) -> bool:
    return not base or directory == base or directory.startswith(base + "/")


def _shown(path: str) -> str:
    """A repository path as text a report and a terminal can hold (undecodable bytes and controls escaped)."""
    return for_terminal(path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))
