"""Git's object database through git's own plumbing: blob contents, a commit's files, the first-parent log.

The one place driftcheck runs `cat-file`, `ls-tree` and `log` itself (GitPython runs the rest), each
with GIT_OPTIONS, so no hook a repository or the clone cache holds ever runs.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from driftcheck.model import DriftcheckError

# Every git driftcheck runs: no hook runs, whatever a repository or the clone cache holds.
GIT_OPTIONS = ("-c", "core.hooksPath=/dev/null")
_SUBMODULE = "160000"
_CHUNK = 500  # object requests per round trip: small enough for the pipe, so neither side waits on the other


class MissingObject(DriftcheckError):
    """An object id the repository does not hold."""


def git_command(git_dir: str | os.PathLike[str], *args: str) -> list[str]:
    """The argv of one hook-free git command on the repository at git_dir."""
    return ["git", *GIT_OPTIONS, "--git-dir", os.fspath(git_dir), *args]


class ObjectReader:
    """Object contents through one `git cat-file --batch` process, many objects per round trip."""

    def __init__(self, git_dir: str | os.PathLike[str]) -> None:
        self.proc = subprocess.Popen(git_command(git_dir, "cat-file", "--batch"), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.proc.wait()

    def read(self, sha: str) -> bytes:
        return next(self.contents([sha]))

    def read_many(self, shas: list[str]) -> dict[str, bytes]:
        return dict(zip(shas, self.contents(shas), strict=True))

    def contents(self, shas: list[str]) -> Iterator[bytes]:
        """The contents of each object, in order; MissingObject for an id the repository lacks."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        for start in range(0, len(shas), _CHUNK):
            chunk = shas[start:start + _CHUNK]
            self.proc.stdin.write("".join(f"{sha}\n" for sha in chunk).encode())
            self.proc.stdin.flush()
            for sha in chunk:
                header = self.proc.stdout.readline().split()
                if len(header) != 3:
                    raise MissingObject(f"blob {sha} is missing from the repository")
                data = self.proc.stdout.read(int(header[2]))
                self.proc.stdout.read(1)  # the newline after the content
                yield data


@functools.lru_cache(maxsize=4)
def ls_tree(git_dir: str, commit: str) -> dict[str, str]:
    """Path -> blob id of every file at commit (cached: every app of a run starts from the same tree)."""
    out = subprocess.run(git_command(git_dir, "ls-tree", "-r", "-z", "--full-tree", commit),
                         capture_output=True, check=True).stdout
    tree = {}
    for entry in out.split(b"\0"):
        if entry:
            meta, _, path = entry.partition(b"\t")
            _mode, kind, sha = meta.split()
            if kind == b"blob":
                tree[path.decode("utf-8", "surrogateescape")] = sha.decode()
    return tree


@dataclass(frozen=True)
class Change:
    """One file a commit changed against its first parent; a copy counts as an addition."""

    status: str  # A, D, M, T, R
    old: str | None
    new: str | None
    old_blob: str
    new_blob: str


@dataclass(frozen=True)
class LogCommit:
    """One commit of the first-parent log, with its changes."""

    sha: str
    parents: list[str]
    author: str  # name <email>
    committer: str
    date: str  # committer date, ISO-8601 with the committer's offset
    message: str
    changes: list[Change]


@functools.lru_cache(maxsize=4)
def first_parent_log(git_dir: str, tip: str, shallow: frozenset[str]) -> tuple[LogCommit, ...]:
    """Every first-parent commit with its diff against its first parent (renames detected), newest first.

    Cached per tip (and shallow boundary): every app of a run walks the same chain.
    """
    return tuple(_parse_log(git_dir, tip))


def _parse_log(git_dir: str, tip: str) -> Iterator[LogCommit]:
    fmt = "%x01%H%x00%P%x00%an <%ae>%x00%cn <%ce>%x00%cI%x00%B%x00"
    argv = git_command(git_dir, "log", "--first-parent", "--diff-merges=first-parent", "--root", "-M",
                       "--raw", "--no-abbrev", "-z", f"--format={fmt}", tip)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    data = proc.stdout.read()
    proc.wait()
    for chunk in data.split(b"\x01")[1:]:
        tokens = chunk.decode("utf-8", "surrogateescape").split("\0")
        sha, parents, author, committer, date, message = tokens[:6]
        yield LogCommit(sha, parents.split(), author, committer, date, message.strip(), _changes(tokens[6:]))


def _changes(tokens: list[str]) -> list[Change]:
    """The `--raw -z` records of one commit: `:modes blobs status` then one path, two for a rename or copy."""
    changes: list[Change] = []
    rest = iter(tokens)
    for token in rest:
        token = token.lstrip("\n")
        if not token.startswith(":"):
            continue
        old_mode, new_mode, old_blob, new_blob, status = token[1:].split(" ")
        kind = status[0]
        first = next(rest)
        second = next(rest) if kind in ("R", "C") else ""
        if _SUBMODULE in (old_mode, new_mode):
            continue  # another repository's commit, not a file of this one
        if kind in ("R", "C"):
            changes.append(Change("R" if kind == "R" else "A", first if kind == "R" else None, second,
                                  old_blob, new_blob))
        elif kind == "A":
            changes.append(Change("A", None, first, old_blob, new_blob))
        elif kind == "D":
            changes.append(Change("D", first, None, old_blob, new_blob))
        else:
            changes.append(Change(kind, first, first, old_blob, new_blob))
    return changes


def shallow_boundary(git_dir: str | os.PathLike[str]) -> set[str]:
    """Commits whose parents a shallow clone lacks (empty for a full clone)."""
    shallow = Path(git_dir) / "shallow"
    return set(shallow.read_text().split()) if shallow.exists() else set()
