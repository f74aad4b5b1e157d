"""The population of changes of an evidence period: every deploy event the runs' history sections name,
and every drift episode (one resource drifting the same way, run after run) with first and last seen,
who changed each field, and whether and when it went away.

An episode is what drift age (report/drift_age.py) calls one drift: the resource, its status and its
set of differing paths. It ends at the first later run that saw the resource otherwise (in sync:
reverted; another drift: changed; no longer there: removed). A run that could not see it (unknown, the
app not checked, no readable report) says nothing, as for drift age.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from driftcheck.evidence.pack_runs import PackRun, Period
from driftcheck.report import present
from driftcheck.report.drift_age import DRIFT_STATUSES, entry_identity, entry_signature


@dataclass
class Episode:
    episode_id: str
    cluster: str
    app: str
    group: str
    kind: str
    namespace: str
    name: str
    status: str
    first_seen: str
    last_seen: str
    runs: int = 0
    resolved_at: str = ""
    resolution: str = ""  # "" (open at the period's last run), reverted, changed, removed
    differences: list[dict[str, Any]] = field(default_factory=list)
    exception: dict[str, Any] | None = None  # set by pack_exceptions

    @property
    def reverted(self) -> bool:
        return self.resolution == "reverted"


def deploy_events(runs: list[PackRun], period: Period) -> list[dict[str, Any]]:
    """Deploy events dated inside the period, once per cluster, commit and app (the newest report's
    copy, which carries the most that later tooling added), newest first."""
    events: dict[tuple[str, str, str], dict[str, Any]] = {}
    first_run: dict[tuple[str, str], str] = {}
    for run in runs:
        doc = run.document
        if doc is None:
            continue
        commit = str((doc.get("source") or {}).get("commit") or "")
        first_run.setdefault((run.cluster, commit), run.generated_at)
        for event in doc.get("history") or []:
            if isinstance(event, dict) and period.holds(present.parse_time(str(event.get("date")))):
                events[(run.cluster, str(event.get("commit")), str(event.get("app")))] = event
    rows = []
    for (cluster, commit, _app), event in events.items():
        rows.append({"cluster": cluster, **event,
                     "first_checked_at": first_run.get((cluster, commit), "")})
    return sorted(rows, key=lambda e: (str(e.get("date")), e["cluster"], str(e.get("app"))), reverse=True)


def episodes(runs: list[PackRun]) -> list[Episode]:
    """Drift episodes seen in the runs (one cluster's or many, oldest first)."""
    found: list[Episode] = []
    open_now: dict[tuple[str, tuple[str, ...]], Episode] = {}
    for run in runs:
        doc = run.document
        if doc is None:
            continue
        checked = {str(a.get("name")) for a in doc.get("apps") or [] if a.get("status") not in
                   ("skipped", "error")}
        seen: dict[tuple[str, ...], dict[str, Any]] = {entry_identity(e): e for e in doc["resources"]}
        for key, episode in list(open_now.items()):
            if key[0] != run.cluster:
                continue
            entry = seen.get(key[1])
            if entry is not None and entry.get("status") == "unknown":
                continue
            if entry is None and episode.app not in checked:
                continue
            if entry is not None and _signature(entry) == (episode.status, _paths(episode)):
                continue
            episode.resolved_at = run.generated_at
            episode.resolution = ("removed" if entry is None else
                                  "reverted" if entry.get("status") == "in-sync" else "changed")
            del open_now[key]
        for entry in doc["resources"]:
            if entry.get("status") not in DRIFT_STATUSES:
                continue
            key = (run.cluster, entry_identity(entry))
            current = open_now.get(key)
            if current is None:
                current = open_now[key] = _new(run, entry)
                found.append(current)
            current.last_seen, current.runs = run.generated_at, current.runs + 1
            current.differences = [dict(d) for d in entry.get("differences") or []]
    return found


def _new(run: PackRun, entry: dict[str, Any]) -> Episode:
    first = str(entry.get("first_seen") or run.generated_at)
    paths = sorted({str(d.get("path")) for d in entry.get("differences") or []})
    ident = "\0".join([run.cluster, *entry_identity(entry), str(entry.get("status")), *paths, first])
    return Episode("ep-" + hashlib.sha256(ident.encode()).hexdigest()[:16], run.cluster,
                   *entry_identity(entry), status=str(entry.get("status")), first_seen=first,
                   last_seen=run.generated_at)


def _signature(entry: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    return entry_signature(entry)


def _paths(episode: Episode) -> tuple[str, ...]:
    return tuple(sorted({str(d.get("path")) for d in episode.differences}))


def value_text(value: Any) -> str:
    """A field's value for a CSV cell: compact JSON (already redacted as in the report), cut at 200."""
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 200 else text[:199] + "…"


def field_rows(episode: Episode) -> list[dict[str, Any]]:
    """One row per differing field (one row with path "" for a missing or extra resource), flat for CSV:
    the field manager, and from the audit log the person and request."""
    base = {k: getattr(episode, k) for k in ("episode_id", "cluster", "app", "group", "kind", "namespace",
                                             "name", "status", "first_seen", "last_seen", "resolved_at",
                                             "resolution")}
    base["reverted"] = "yes" if episode.reverted else "no"
    base["runs_seen"] = episode.runs
    rows = []
    for diff in episode.differences or [{}]:
        changed = diff.get("changed_by") or {}
        who = changed.get("identity") or {}
        rows.append({**base, "path": diff.get("path", ""), "desired": value_text(diff.get("desired")),
                     "live": value_text(diff.get("live")), "manager": changed.get("manager", ""),
                     "operation": changed.get("operation", ""), "changed_at": changed.get("time", ""),
                     "subresource": changed.get("subresource", ""), "user": who.get("user", ""),
                     "impersonated_user": who.get("impersonated_user", ""),
                     "source_ips": " ".join(who.get("source_ips") or []),
                     "attribution": who.get("status", ""), "confidence": who.get("confidence", ""),
                     "audit_id": who.get("audit_id", ""), "audit_finding": who.get("finding", "")})
    return rows
