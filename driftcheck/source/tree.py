"""Reading the files of one commit straight from Git objects (no checkout; bare repositories work).

The work tree, the index and HEAD are never touched: everything goes through the object database.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import git

from driftcheck.model import DriftcheckError, RunError

_SYMLINK = 0o120000
_SUBMODULE = 0o160000


class CommitTree:
    """The file tree of one commit. Paths are repository-relative with `/` separators."""

    def __init__(self, repo: git.Repo, commit: git.Commit) -> None:
        self.repo = repo
        self.commit = commit
        self.sha: str = commit.hexsha
        # ISO-8601 with the committer's own offset, e.g. 2026-01-20T16:29:44+09:00
        self.date: str = commit.committed_datetime.isoformat()
        # directory path -> {name: entry}: each tree object is parsed once, not once per path looked up
        self._children: dict[str, dict[str, git.objects.base.IndexObject]] = {}
        self._shared: tuple[Path, list[RunError]] | None = None

    def _entry(self, path: str) -> git.objects.base.IndexObject | None:
        path = _norm(path)
        if not path:
            return self.commit.tree
        parent, _, name = path.rpartition("/")
        children = self._children.get(parent)
        if children is None:
            tree = self._entry(parent)
            children = {item.name: item for item in tree} if isinstance(tree, git.Tree) else {}
            self._children[parent] = children
        return children.get(name)

    def exists(self, path: str) -> bool:
        return self._entry(path) is not None

    def is_dir(self, path: str) -> bool:
        return isinstance(self._entry(path), git.Tree)

    def symlink_target(self, path: str) -> str | None:
        """Where a symlink at path points (as stored in Git, never resolved); None for anything else."""
        entry = self._entry(path)
        if not isinstance(entry, git.Blob) or entry.mode != _SYMLINK:
            return None
        return entry.data_stream.read().decode("utf-8", "surrogateescape")

    def read(self, path: str) -> bytes:
        """The bytes of a file at this commit; DriftcheckError when absent or a directory."""
        entry = self._entry(path)
        if not isinstance(entry, git.Blob):
            raise DriftcheckError(f"{path}: no such file at commit {self.sha[:12]}")
        return entry.data_stream.read()

    def list_files(self, path: str = "", recurse: bool = False) -> list[str]:
        """Regular files (and symlinks) under path, sorted; the whole subtree when recurse."""
        entry = self._entry(path)
        if not isinstance(entry, git.Tree):
            return []
        items = entry.traverse() if recurse else iter(entry)
        return sorted(item.path for item in items
                      if isinstance(item, git.Blob))  # type: ignore[union-attr]

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

        Symlinks are recreated only when they resolve inside the exported tree; the others are
        left out and reported, so a build can never read outside what Git holds. Submodules are
        reported too (their content is not in this repository).
        """
        root = self._entry(path)
        if not isinstance(root, git.Tree):
            raise DriftcheckError(f"{path or '.'}: no such directory at commit {self.sha[:12]}")
        base = _norm(path)
        errors: list[RunError] = []
        dest.mkdir(parents=True, exist_ok=True)
        links: list[tuple[Path, str, str]] = []
        entries = self._ls_tree(base)
        files = [(mode, sha, repo_path) for mode, kind, sha, repo_path in entries if kind == "blob"]
        errors += [RunError("submodule not exported (its files are in another repository)", file=repo_path,
                            stage="source") for _, kind, _, repo_path in entries if kind == "commit"]
        for (mode, _, repo_path), data in zip(files, self._blob_contents([f[1] for f in files]), strict=True):
            target = dest / (posixpath.relpath(repo_path, base) if base else repo_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            if mode == _SYMLINK:
                link = data.decode("utf-8", "surrogateescape")
                os.symlink(link, target)
                links.append((target, link, repo_path))
            else:
                target.write_bytes(data)
                if mode & stat.S_IXUSR:
                    target.chmod(0o755)
        # Checked once all links exist, since a link may lead through another one.
        root_real = dest.resolve()
        for target, link, repo_path in links:
            real = Path(os.path.realpath(target))
            if real != root_real and root_real not in real.parents:
                target.unlink()
                errors.append(RunError(f"symlink to {link!r} points outside the exported tree; not followed",
                                       file=repo_path, stage="source"))
        return errors

    def _ls_tree(self, base: str) -> list[tuple[int, str, str, str]]:
        """(mode, type, sha, path) of everything under base, from one `git ls-tree -r`."""
        args = ["git", "--git-dir", self.repo.git_dir, "ls-tree", "-r", "-z", "--full-tree", self.sha]
        out = subprocess.run([*args, "--", base] if base else args, capture_output=True, check=True).stdout
        entries = []
        for record in out.split(b"\0"):
            if record:
                meta, _, path = record.partition(b"\t")
                mode, kind, sha = meta.decode().split()
                entries.append((int(mode, 8), kind, sha, path.decode("utf-8", "surrogateescape")))
        return entries

    def _blob_contents(self, shas: list[str]) -> Iterator[bytes]:
        """Blob contents in order, from one `git cat-file --batch` (a read per blob costs ~2 ms)."""
        if not shas:
            return
        proc = subprocess.Popen(["git", "--git-dir", self.repo.git_dir, "cat-file", "--batch"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdin is not None and proc.stdout is not None
        stdin = proc.stdin

        def feed() -> None:
            with stdin:
                stdin.write("".join(f"{sha}\n" for sha in shas).encode())

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        try:
            for _ in shas:
                header = proc.stdout.readline().split()
                if len(header) != 3:
                    raise DriftcheckError(f"git cat-file could not read objects of commit {self.sha[:12]}")
                yield proc.stdout.read(int(header[2]))
                proc.stdout.read(1)  # the newline after each object
        finally:
            writer.join()
            proc.stdout.close()
            proc.wait()


def _norm(path: str) -> str:
    """Repository-relative path without leading ./ or trailing /; '' for the root."""
    p = posixpath.normpath(path.strip().replace(os.sep, "/")) if path.strip() else ""
    return "" if p in (".", "/") else p.lstrip("/")
