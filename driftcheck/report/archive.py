"""The dated report archive: `<out>/<cluster>/<UTC timestamp>/report.*`, its lock, listing and pruning.

One run directory per run, published whole by a rename (see atomic.py) and never rewritten. A lock file
at `<out>/.driftcheck.lock` serialises runs writing to the same archive: the second waits for the first.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftcheck.model import STATUSES, DriftcheckError
from driftcheck.report import json_report, present

LOCK_NAME = ".driftcheck.lock"
LOCK_CONTENT = re.compile(rb"\A\d{0,19}\n?\Z")  # what archive_lock writes: nothing yet, or a pid
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
    fd = _open_lock(path)
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


def _open_lock(path: Path) -> int:
    """The lock file, opened without following a symlink; anything that may be another file is refused.

    Whoever can write the archive directory could plant a symlink, a hard link, a FIFO or some file of
    their choosing at this name; the lock is truncated and rewritten, so only an empty file or one holding
    a pid (a lock an earlier run left) is accepted.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # a FIFO must not hang
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        why = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise DriftcheckError(f"cannot use the archive lock {path}: {why}; remove it and run again") from exc
    try:
        info = os.fstat(fd)
        why = ("it is not a regular file" if not stat.S_ISREG(info.st_mode)
               else "it has other hard links" if info.st_nlink != 1
               else "it holds something other than a pid" if not LOCK_CONTENT.match(os.pread(fd, 64, 0))
               else "")
        if why:
            raise DriftcheckError(f"cannot use the archive lock {path}: {why}; remove it and run again")
    except BaseException:
        os.close(fd)
        raise
    return fd


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


def horizon(generated_at: str) -> str:
    """The stamp after which a run directory is "from the future": now, or this run's own time if later.

    A clock that was ahead (or a planted directory) would otherwise make such a run the newest for ever:
    pruning would remove each new run right after publishing it, and drift age would be inherited from it.
    """
    return max(run_stamp(generated_at), datetime.now(UTC).strftime(STAMP_FORMAT))


def cluster_dir(out: Path, cluster: str) -> Path:
    """`<out>/<cluster>`, refused when it is a symlink: publishing and pruning would act where it points."""
    directory = out / cluster
    if directory.is_symlink():
        raise DriftcheckError(f"{directory} is a symbolic link; refusing to write or prune through it")
    return directory


def new_run_path(out: Path, cluster: str, generated_at: str) -> Path:
    """The directory the next run publishes to; a suffix keeps two runs in the same second apart."""
    base = cluster_dir(out, cluster) / run_stamp(generated_at)
    candidate, n = base, 1
    while os.path.lexists(candidate):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def runs(out: Path, cluster: str, now: str, warn: Callable[[str], None],
         headings: bool = False) -> list[ArchivedRun]:
    """The cluster's published runs with their report.json, oldest first (see run_paths); with
    `headings`, each document without its bulk arrays (see read_heading).

    A report.json the archive cannot rely on is not used (document None); it is told to warn, naming it.
    """
    listed = []
    for path in run_paths(out, cluster, now, warn):
        document, problem = (read_heading if headings else read_document)(path / "report.json")
        if problem:
            warn(f"{path / 'report.json'}: ignored for drift age and the index counts: {problem}")
        listed.append(ArchivedRun(cluster, path, document))
    return listed


def run_paths(out: Path, cluster: str, now: str, warn: Callable[[str], None]) -> list[Path]:
    """The cluster's run directories, oldest first, none dated after `now` (see horizon).

    A symlinked or future-dated run directory is set aside and told to warn, naming it; the run goes on.
    """
    directory = cluster_dir(out, cluster)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        if not RUN_NAME.match(path.name):
            continue
        if path.is_symlink():
            warn(f"{path}: skipped: a run directory that is a symbolic link is never followed or deleted")
        elif path.name[:16] > now and path.is_dir():
            warn(f"{path}: skipped: dated after this run ({now}); a clock was ahead or it was planted")
        elif path.is_dir():
            found.append(path)
    return sorted(found, key=_run_order)


def clusters(out: Path) -> list[str]:
    """The archive's cluster directories (a symlinked one is not the archive's: it is left alone)."""
    if not out.is_dir():
        return []
    return sorted(p.name for p in out.iterdir()
                  if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))


def prune(out: Path, cluster: str, keep: int, now: str, warn: Callable[[str], None]) -> list[Path]:
    """Remove all but the newest `keep` runs of the cluster; returns what was removed."""
    if keep < 1:
        raise DriftcheckError(f"--keep must be at least 1 (got {keep})")
    removed = []
    for path in run_paths(out, cluster, now, warn)[:-keep]:
        try:
            shutil.rmtree(path)  # run_paths lists real directories only, and rmtree refuses a symlink
        except OSError as exc:
            warn(f"{path}: not pruned: {exc.strerror or exc}")
        else:
            removed.append(path)
    return removed


def remove_leftovers(out: Path, cluster: str) -> list[Path]:
    """Temporary files and directories a killed run left behind; call only while holding the lock."""
    found = [p for directory in (out, cluster_dir(out, cluster)) if directory.is_dir()
             for p in directory.glob(".*.tmp")]
    for path in found:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)  # a symlink goes, never what it points to
    return found


def read_document(path: Path) -> tuple[dict[str, Any] | None, str]:
    """An archived report.json and why it is not used ("" when it is, or when there is none).

    Not followed if it is a symlink. An archive is not the place to crash: one wrong-typed, truncated or
    future-schema file must not stop every later run, so what the readers rely on is checked first.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, "a symbolic link" if exc.errno == errno.ELOOP else f"unreadable ({exc.strerror})"
    try:
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                return None, "not a regular file"
            data = file.read()
    except OSError as exc:
        return None, f"unreadable ({exc.strerror})"
    try:
        document = json_report.parse(data.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError included
        return None, f"not valid JSON: {str(exc)[:200]}"
    problem = archived_problem(document, path.parent.name)
    return (None, problem) if problem else (document, "")


BULK_SECTIONS = ("resources", "history", "unmanaged", "coverage")  # what the index and fleet never read


class _WrittenHeadings:
    """The headings of the report.json files this process published, so that the summaries built right
    after (index, fleet) need not parse again the megabytes just written: a heading is used only while
    the file is the one written (same inode, size and modification time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # several threads may publish reports
        self.by_path: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}

    def remember(self, path: Path, document: dict[str, Any]) -> None:
        heading = {k: v for k, v in document.items() if k not in BULK_SECTIONS}
        with self.lock:
            self.by_path[path] = (_identity(os.lstat(path)), heading)

    def recall(self, path: Path) -> dict[str, Any] | None:
        with self.lock:
            found = self.by_path.get(path)
        if found is None:
            return None
        try:
            status = os.lstat(path)
            unchanged = stat.S_ISREG(status.st_mode) and _identity(status) == found[0]
        except OSError:
            return None
        return found[1] if unchanged else None


def _identity(status: os.stat_result) -> tuple[int, int, int]:
    return status.st_ino, status.st_mtime_ns, status.st_size


WRITTEN_HEADINGS = _WrittenHeadings()


def read_heading(path: Path) -> tuple[dict[str, Any] | None, str]:
    """read_document without the bulk arrays: what the run history and the fleet summary read."""
    heading = WRITTEN_HEADINGS.recall(path)
    if heading is not None:
        return heading, ""
    document, problem = read_document(path)
    if document is None:
        return None, problem
    return {k: v for k, v in document.items() if k not in BULK_SECTIONS}, ""


def archived_problem(doc: Any, run_name: str) -> str:
    """Why the archive's readers (index, drift age) cannot rely on doc; "" when they can.

    The v1 schema checks everything but the two bulk arrays; in `resources` the fields drift age reads are
    checked by hand, and `history` is not read (schema-validating thousands of resources takes most of a
    second per run, and every run reads the whole archive). generated_at must match the directory and
    no first_seen may be later than it, so no planted time can make a drift look older or newer.
    """
    if not isinstance(doc, dict):
        return f"a JSON {type(doc).__name__}, not an object"
    if doc.get("schema") != json_report.SCHEMA_ID:
        found = "no schema" if doc.get("schema") is None else f"schema {repr(doc['schema'])[:60]}"
        return f"{found}, not {json_report.SCHEMA_ID} (written by another version?)"
    resources = doc.get("resources")
    if not isinstance(resources, list) or not isinstance(doc.get("history"), list):
        return "resources and history must be arrays"
    problems = json_report.schema_problems({**doc, "resources": [], "history": []})
    if problems:
        return problems[0][:200]
    written = present.parse_time(doc["generated_at"])
    if written is None or written.astimezone(UTC).strftime(STAMP_FORMAT) != run_name[:16]:
        return f"generated_at {doc['generated_at'][:40]!r} is not the time in the directory name"
    for i, entry in enumerate(resources):
        why = _resource_problem(entry, written)
        if why:
            return f"/resources/{i}: {why}"
    return ""


def _resource_problem(entry: Any, written: datetime) -> str:
    if not isinstance(entry, dict):
        return "not an object"
    for key in ("app", "group", "kind", "namespace", "name"):
        if not isinstance(entry.get(key), str):
            return f"{key} is not a string"
    if entry.get("status") not in STATUSES:
        return f"status {repr(entry.get('status'))[:40]} is not one of {', '.join(STATUSES)}"
    differences = entry.get("differences")
    if not isinstance(differences, list) or not all(isinstance(d, dict) and isinstance(d.get("path"), str)
                                                    for d in differences):
        return "differences must be objects with a string path"
    first_seen = entry.get("first_seen")
    if first_seen is not None:
        moment = present.parse_time(first_seen) if isinstance(first_seen, str) else None
        if moment is None or moment > written:
            return f"first_seen {repr(first_seen)[:40]} is not a time, or later than the run itself"
    return ""


def _run_order(path: Path) -> tuple[str, int]:
    stamp, _, n = path.name.partition("-")
    return (stamp, int(n or 1))
