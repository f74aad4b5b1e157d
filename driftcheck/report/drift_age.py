"""Drift age: since when has each current drift been there? (`first_seen`, read from the archive.)

A drift is the same when the resource, its status and the set of differing paths are the same. Walking
back from the newest archived run: the same drift there hands over its `first_seen`; a different state
(in sync, other paths) means the drift is new; a run that could not see the resource (unknown, app not
rendered, no JSON kept) says nothing and the walk goes on to the run before it. Because each run stores
the `first_seen` it inherited, pruning old runs does not make drifts look younger.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftcheck.model import AuditReport, ResourceResult
from driftcheck.report.archive import ArchivedRun
from driftcheck.report.present import parse_time

DRIFT_STATUSES = ("drifted", "missing", "extra")
Identity = tuple[str, str, str, str, str]


def fill_first_seen(report: AuditReport, earlier: Iterable[ArchivedRun]) -> None:
    """Set first_seen on every drifting resource of report; earlier = archived runs, oldest first."""
    pending = {identity(r): r for r in report.resources if r.status in DRIFT_STATUSES}
    for r in report.resources:
        r.first_seen = report.generated_at if r.status in DRIFT_STATUSES else None
    for run in reversed(list(earlier)):
        if not pending:
            return
        doc = run.document  # None, or checked by archive.archived_problem: the fields read here are typed
        if doc is None:
            continue
        seen = {entry_identity(e): e for e in doc["resources"]}
        for key in list(pending):
            entry = seen.get(key)
            if entry is None or entry.get("status") == "unknown":
                continue
            result = pending.pop(key)
            if entry_signature(entry) == signature(result):
                result.first_seen = _not_after(entry.get("first_seen") or doc["generated_at"],
                                               report.generated_at)


def _not_after(inherited: str, now: str) -> str:
    """A drift is never first seen after the run that sees it (a run that overlapped this one may have
    published first, with a later time)."""
    moment, limit = parse_time(inherited), parse_time(now)
    return now if moment is None or limit is None or moment > limit else inherited


def identity(r: ResourceResult) -> Identity:
    return (r.app, r.key.group, r.key.kind, r.key.namespace, r.key.name)


def signature(r: ResourceResult) -> tuple[str, tuple[str, ...]]:
    return (r.status, tuple(sorted({d.path for d in r.diffs})))


def entry_identity(entry: dict[str, Any]) -> Identity:
    return tuple(str(entry.get(k, "")) for k in ("app", "group", "kind", "namespace", "name"))  # type: ignore[return-value]


def entry_signature(entry: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    paths = {str(d.get("path")) for d in entry.get("differences", []) if isinstance(d, dict)}
    return (str(entry.get("status")), tuple(sorted(paths)))
