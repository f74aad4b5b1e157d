"""The dated report archive: `<out>/<cluster>/<UTC timestamp>/report.*`, its lock, listing and pruning.

One run directory per run, published whole by a rename (see atomic.py) and never rewritten. A lock file
at `<out>/.driftcheck.lock` serialises runs writing to the same archive: the second waits for the first.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftcheck.model import DriftcheckError

LOCK_NAME = ".driftcheck.lock"
RUN_NAME = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class ArchivedRun:
    """One published run directory; `document` is its report.json when it has one."""

    cluster: str
    path: Path
    document: dict[str, Any] | None

    @property
    def name(self) -> str:
        return self.path.name


@contextlib.contextmanager
def archive_lock(out: Path, on_wait: Callable[[str], None] = lambda _m: None) -> Iterator[None]:
    """Hold the archive's lock; if another run holds it, say so through on_wait and wait for it."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DriftcheckError(f"cannot open the archive lock {path}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another run"
            on_wait(f"waiting for {path}: held by pid {holder}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def cluster_slug(cluster: dict[str, Any]) -> str:
    """A directory name for the cluster: its context, else server host, else snapshot file name."""
    raw = cluster.get("context") or ""
    if not raw and cluster.get("server"):
        raw = re.sub(r"^[a-z]+://", "", str(cluster["server"]))
    if not raw and cluster.get("snapshot"):
        raw = Path(str(cluster["snapshot"])).stem
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", str(raw)).strip(".-")
    return slug or "cluster"


def run_stamp(generated_at: str) -> str:
    """`2026-11-26T10:40:00+01:00` -> `20261126T094000Z`: UTC, sortable, safe in any filesystem."""
    try:
        moment = datetime.fromisoformat(generated_at)
    except ValueError as exc:
        raise DriftcheckError(f"report generated_at is not an ISO-8601 time: {generated_at!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def new_run_path(out: Path, cluster: str, generated_at: str) -> Path:
    """The directory the next run publishes to; a suffix keeps two runs in the same second apart."""
    base = out / cluster / run_stamp(generated_at)
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def runs(out: Path, cluster: str) -> list[ArchivedRun]:
    """The cluster's published runs, oldest first."""
    directory = out / cluster
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.is_dir() and RUN_NAME.match(p.name)]
    return [ArchivedRun(cluster, p, read_document(p / "report.json")) for p in sorted(found, key=_run_order)]


def clusters(out: Path) -> list[str]:
    if not out.is_dir():
        return []
    return sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def prune(out: Path, cluster: str, keep: int) -> list[Path]:
    """Remove all but the newest `keep` runs of the cluster; returns what was removed."""
    if keep < 1:
        raise DriftcheckError(f"--keep must be at least 1 (got {keep})")
    removed = [run.path for run in runs(out, cluster)[:-keep]]
    for path in removed:
        shutil.rmtree(path)
    return removed


def remove_leftovers(out: Path, cluster: str) -> list[Path]:
    """Temporary files and directories a killed run left behind; call only while holding the lock."""
    found = [p for directory in (out, out / cluster) if directory.is_dir()
             for p in directory.glob(".*.tmp")]
    for path in found:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return found


def read_document(path: Path) -> dict[str, Any] | None:
    """An archived report.json, or None if absent or unreadable (an archive is not the place to crash)."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _run_order(path: Path) -> tuple[str, int]:
    stamp, _, n = path.name.partition("-")
    return (stamp, int(n or 1))
