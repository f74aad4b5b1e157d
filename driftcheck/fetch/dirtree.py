"""`DirTree`: the `Tree` of a directory on disk (an unpacked chart archive, an OCI artifact).

Renderers read a fetched chart exactly as they read a commit. The directory may hold symlinks (a chart's
archive may, within the chart); one whose target lies outside the directory, and any file that is not
a regular file, directory or symlink, is never read, listed or exported: it is reported by `refused`,
as `CommitTree` reports what Git would refuse. The directory itself is the cache's and never written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from driftcheck.fetch.tree import _norm, _shown
from driftcheck.model import DriftcheckError, RunError
from driftcheck.textsafe import for_terminal


class DirTree:
    """The files under root, with repository-relative `/` paths; sha is the archive's digest."""

    def __init__(self, root: Path, sha: str, date: str = "") -> None:
        self.root = root
        self.sha = sha
        self.date = date  # "" when the source carries none (chart archives do not)
        self._real = os.path.realpath(root)

    def _outside(self, disk: Path) -> bool:
        real = os.path.realpath(disk)
        return real != self._real and not real.startswith(self._real + os.sep)

    def _path(self, path: str) -> Path | None:
        """The entry at path when reading it stays inside the tree (symlinks included), else None."""
        relative = _norm(path)
        target = self.root / relative if relative else self.root
        return target if os.path.lexists(target) and not self._outside(target) else None

    def _why_refused(self, disk: Path) -> str | None:
        mode = os.lstat(disk).st_mode
        if stat.S_ISLNK(mode):
            return (f"symlink to {for_terminal(repr(os.readlink(disk)))} points outside the tree"
                    if self._outside(disk) else None)
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return "not a regular file, directory or symlink"
        return None

    def exists(self, path: str) -> bool:
        return self._path(path) is not None

    def is_dir(self, path: str) -> bool:
        target = self._path(path)
        return target is not None and target.is_dir()

    def read(self, path: str) -> bytes:
        """The bytes of a file; DriftcheckError when absent, a directory or outside the tree."""
        target = self._path(path)
        if target is None or not target.is_file():
            raise DriftcheckError(f"{path}: no such file in {self.sha[:19]}")
        return target.read_bytes()

    def symlink_target(self, path: str) -> str | None:
        relative = _norm(path)
        target = self.root / relative
        return os.readlink(target) if relative and target.is_symlink() else None

    def _walk(self, base: str, recurse: bool) -> Iterator[tuple[str, Path]]:
        """(tree path, on-disk path) of every entry under base, symlinked directories not descended."""
        directory = self.root / base if base else self.root
        with contextlib.suppress(OSError):
            for entry in sorted(os.scandir(directory), key=lambda e: e.name):
                child = f"{base}/{entry.name}" if base else entry.name
                yield child, Path(entry.path)
                if recurse and entry.is_dir(follow_symlinks=False):
                    yield from self._walk(child, recurse)

    def list_files(self, path: str = "", recurse: bool = False) -> list[str]:
        """Regular files (and symlinks that stay inside) under path, sorted; the subtree when recurse."""
        base = _norm(path)
        if not self.is_dir(base) or (base and (self.root / base).is_symlink()):
            return []
        return sorted(child for child, disk in self._walk(base, recurse)
                      if stat.S_ISREG(mode := os.lstat(disk).st_mode) or stat.S_ISLNK(mode)
                      if self._why_refused(disk) is None)

    def refused(self, path: str = "") -> list[RunError]:
        """The entries under path that are never read: symlinks out of the tree, special files."""
        errors = []
        for child, disk in self._walk(_norm(path), recurse=True):
            why = self._why_refused(disk)
            if why:
                errors.append(RunError(f"not exported: {why} ({self.sha[:19]})", file=_shown(child),
                                       stage="source"))
        return errors

    def export(self, dest: Path, path: str = "") -> list[RunError]:
        """Copy the files under path into dest; refused entries are left out and returned."""
        base = _norm(path)
        if not self.is_dir(base):
            raise DriftcheckError(f"{path or '.'}: no such directory in {self.sha[:19]}")
        dest.mkdir(parents=True, exist_ok=True)
        errors = self.refused(base)
        refused = {e.file for e in errors}
        for child, disk in self._walk(base, recurse=True):
            if _shown(child) in refused:
                continue
            target = dest / (child[len(base) + 1:] if base else child)
            if disk.is_symlink():
                os.symlink(os.readlink(disk), target)
            elif disk.is_dir():
                target.mkdir(exist_ok=True)
            elif disk.is_file():
                shutil.copy2(disk, target, follow_symlinks=False)
        return errors

    @contextlib.contextmanager
    def exported(self, private: bool = False) -> Iterator[tuple[Path, list[RunError]]]:
        """The directory itself for readers when nothing in it is refused (an unpacked chart never has
        such entries), else a copy without them; a private copy for a caller that edits files."""
        refused = [] if private else self.refused()
        if not private and not refused:
            yield self.root, []
            return
        with tempfile.TemporaryDirectory(prefix="driftcheck-export-") as tmp:
            yield Path(tmp) / "tree", self.export(Path(tmp) / "tree")
