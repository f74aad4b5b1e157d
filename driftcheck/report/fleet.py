"""The fleet summary: `<out>/fleet.json` and `<out>/index.html`, every cluster's and app's standing.

Rebuilt after each multi-cluster (or `--shard`) run from the archive's latest run of *every* cluster, not
only this run's, so that the Pods of a sharded Job compose: each rebuilds it at its end under the archive
lock, and the last one's summary covers every cluster's latest run. What the archive cannot say (the
destination name, a cluster that could not be read) is kept per cluster in `<out>/.fleet/*.json`. In such
an archive the run history (report/index.py) is `<out>/runs.html`, rebuilt here too and linked from the
summary.

fleet.json (`schema: driftcheck/fleet-v1`):
  generated_at   when this summary was built (ISO-8601, UTC)
  exit_status    the worst cluster's: 0 in sync, 1 drift, 2 errors or a cluster not audited
  clusters[]     name, server, archive (its directory under <out>), latest_run (directory name or null),
                 generated_at (of that run), report (href relative to <out>), counts (total, in_sync,
                 drifted, missing, extra, unknown, errors), exit_status, error ("" or why its latest
                 attempt produced no report)
  apps[]         name, cluster, standing (the app's status in its cluster's latest run; "error" when the
                 cluster's latest attempt failed)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftcheck.report import archive
from driftcheck.report.atomic import atomic_write
from driftcheck.report.html import asset, content_security_policy, environment
from driftcheck.report.index import render_index

RUNS_PAGE = "runs.html"  # the run history of a fleet archive, which report.write leaves to the summary

SCHEMA = "driftcheck/fleet-v1"
RECORDS = ".fleet"
COUNTS = ("total", "in_sync", "drifted", "missing", "extra", "unknown", "errors")


@dataclass(frozen=True)
class Outcome:
    """This run's word on one cluster: its archive directory (None when it wrote no report) or its error."""

    name: str
    server: str
    apps: list[str]
    archive: str | None
    error: str = ""


@dataclass
class ClusterStanding:
    name: str
    server: str
    archive: str
    latest_run: str | None = None
    generated_at: str = ""
    report: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    exit_status: int = 2
    error: str = ""


@dataclass(frozen=True)
class AppStanding:
    name: str
    cluster: str
    standing: str


@dataclass(frozen=True)
class Written:
    json: Path
    html: Path
    exit_status: int


def write_summary(out: Path, outcomes: Sequence[Outcome], on_wait: Callable[[str], None]) -> Written:
    """Record this run's outcomes, then rebuild fleet.json and index.html from the whole archive, all
    under the archive lock so that shards finishing together never interleave."""
    told: set[str] = set()

    def warn(message: str) -> None:
        if message not in told:
            told.add(message)
            on_wait(message)

    with archive.archive_lock(out, on_wait):
        for outcome in outcomes:
            _record(out, outcome)
        doc = summary(out, warn)
        json_path = atomic_write(out / "fleet.json", json.dumps(doc, indent=2, sort_keys=False) + "\n")
        html_path = atomic_write(out / "index.html", render_html(doc))
        atomic_write(out / RUNS_PAGE, render_index(out, archive.horizon(str(doc["generated_at"])), warn))
    return Written(json_path, html_path, int(doc["exit_status"]))


def summary(out: Path, warn: Callable[[str], None]) -> dict[str, Any]:
    """fleet.json's document (see the module docstring) from the records and the archive's latest runs."""
    now = datetime.now(UTC)
    horizon = now.strftime(archive.STAMP_FORMAT)
    records = _records(out, warn)
    by_archive = {r["archive"]: r for r in records if r.get("archive")}
    clusters: list[ClusterStanding] = []
    apps: list[AppStanding] = []
    for record in records:
        standing, app_rows = _standing(out, record, horizon, warn)
        clusters.append(standing)
        apps += app_rows
    for slug in archive.clusters(out):  # archive directories no fleet run recorded (single-cluster runs)
        if slug not in by_archive:
            standing, app_rows = _standing(out, {"name": slug, "server": "", "archive": slug, "apps": [],
                                                 "error": ""}, horizon, warn)
            if standing.latest_run is not None:
                clusters.append(standing)
                apps += app_rows
    clusters.sort(key=lambda c: c.name)
    apps.sort(key=lambda a: (a.cluster, a.name))
    return {"schema": SCHEMA, "generated_at": now.isoformat(timespec="seconds"),
            "exit_status": max([0, *(c.exit_status for c in clusters)]),
            "clusters": [asdict(c) for c in clusters], "apps": [asdict(a) for a in apps]}


def render_html(doc: dict[str, Any]) -> str:
    """index.html: the fleet's standing; every value from clusters or Git is escaped (autoescape)."""
    style = asset("index.css")
    return environment().get_template("fleet.html.j2").render(
        doc=doc, style=style, csp=content_security_policy(style, None), counts=COUNTS)


def _standing(out: Path, record: dict[str, Any], horizon: str, warn: Callable[[str], None],
              ) -> tuple[ClusterStanding, list[AppStanding]]:
    name = str(record.get("name") or "")
    slug = str(record.get("archive") or "")
    standing = ClusterStanding(name, str(record.get("server") or ""), slug,
                               error=str(record.get("error") or ""))
    doc: dict[str, Any] | None = None
    if slug:
        for path in reversed(archive.run_paths(out, slug, horizon, warn)):  # the newest that can be read
            doc, problem = archive.read_heading(path / "report.json")
            if problem:
                warn(f"{path / 'report.json'}: left out of the fleet summary: {problem}")
            if doc is not None:
                standing.latest_run, standing.generated_at = path.name, str(doc.get("generated_at") or "")
                page = path / "report.html" if (path / "report.html").is_file() else path / "report.json"
                standing.report = page.relative_to(out).as_posix()
                break
    if doc is not None:
        counts = doc.get("summary") or {}
        standing.counts = {k: int(counts.get(k, 0)) for k in COUNTS}
        standing.server = standing.server or str((doc.get("cluster") or {}).get("server") or "")
    if standing.error or doc is None:
        standing.exit_status = 2
        standing.error = standing.error or "no readable report in the archive"
        return standing, [AppStanding(str(a), name, "error") for a in record.get("apps") or []]
    standing.exit_status = _exit_status(standing.counts)
    rows = [AppStanding(str(a.get("name")), name, str(a.get("status") or "unknown"))
            for a in doc.get("apps") or [] if isinstance(a, dict)]
    return standing, rows


def _exit_status(counts: dict[str, int]) -> int:
    """As `check` decides it for one report: errors or unknown 2, anything differing 1, else 0."""
    if counts["errors"] or counts["unknown"]:
        return 2
    return 1 if counts["drifted"] or counts["missing"] or counts["extra"] else 0


def _record_path(out: Path, name: str) -> Path:
    """One file per destination name: readable, and a hash so that two names never share one."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:60] or "cluster"
    return out / RECORDS / f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:12]}.json"


def _record(out: Path, outcome: Outcome) -> None:
    """Replace the cluster's record; a failed attempt keeps the archive directory its earlier runs used."""
    path = _record_path(out, outcome.name)
    previous, _ = _load(path)
    slug = outcome.archive or (previous or {}).get("archive") or ""
    record = {"name": outcome.name, "server": outcome.server, "archive": slug, "apps": sorted(outcome.apps),
              "error": outcome.error, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds")}
    atomic_write(path, json.dumps(record, indent=2) + "\n")


def _records(out: Path, warn: Callable[[str], None]) -> list[dict[str, Any]]:
    directory = out / RECORDS
    if not directory.is_dir() or directory.is_symlink():
        return []
    found = []
    for path in sorted(directory.glob("*.json")):
        record, problem = _load(path)
        if record is None:
            warn(f"{path}: left out of the fleet summary: {problem}")
        else:
            found.append(record)
    return found


def _load(path: Path) -> tuple[dict[str, Any] | None, str]:
    """A record, or why not; a symlink is never followed (whoever writes the archive could plant one)."""
    if not path.exists() or path.is_symlink():
        return None, "missing or a symbolic link"
    try:
        record = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"not readable JSON: {str(exc)[:200]}"
    if not isinstance(record, dict) or not isinstance(record.get("name"), str) \
            or not isinstance(record.get("archive", ""), str) or not isinstance(record.get("apps", []), list):
        return None, "not a fleet record (name, archive, apps)"
    return record, ""
