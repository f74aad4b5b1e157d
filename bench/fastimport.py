"""Writing many commits into a new Git repository at once through `git fast-import` (seconds, not minutes)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass
class Commit:
    """One commit: who, when (with the committer's offset), what; files map path -> text (None deletes)."""

    author: str  # "Name <email>"
    date: datetime
    message: str
    files: dict[str, str | None] = field(default_factory=dict)


def _data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


def _when(moment: datetime) -> bytes:
    offset = moment.utcoffset()
    assert offset is not None, "commit dates need an offset"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{int(moment.timestamp())} {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}".encode()


def fast_import(dest: Path, commits: Iterable[Commit], branch: str = "main") -> None:
    """A new repository at `dest` whose `branch` holds `commits` (oldest first), checked out."""
    dest.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "init", "-q", "-b", branch], cwd=dest, check=True, env=env)
    proc = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], cwd=dest, stdin=subprocess.PIPE,
                            env=env)
    assert proc.stdin is not None
    for commit in commits:
        who = commit.author.encode() + b" " + _when(commit.date)
        out = [b"commit refs/heads/" + branch.encode() + b"\n", b"author " + who + b"\n",
               b"committer " + who + b"\n", _data(commit.message.encode())]
        for path, text in commit.files.items():
            if text is None:
                out.append(b"D " + path.encode() + b"\n")
            else:
                out.append(b"M 100644 inline " + path.encode() + b"\n" + _data(text.encode()))
        proc.stdin.write(b"".join(out) + b"\n")
    proc.stdin.write(b"done\n")
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"git fast-import failed in {dest}")
    subprocess.run(["git", "checkout", "-q", "-f", branch], cwd=dest, check=True, env=env)
