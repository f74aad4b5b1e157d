"""The runs of an evidence period: every archived or attested run of each cluster with its verification,
the schedule slots of the period and which held a run, and the completeness statement built from them.

A run is found twice over: its directory (report.json, report.sigstore.json) and its kept chain link
(`chain/<seq>`), so a run whose report was deleted still shows as attested-but-absent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from croniter import CroniterBadCronError, croniter
from cryptography.hazmat.primitives.asymmetric import ec

from driftcheck.evidence import bundle, chain
from driftcheck.evidence.archive_check import ClusterVerdict
from driftcheck.evidence.schedule import MAX_SLOTS
from driftcheck.model import DriftcheckError
from driftcheck.report import archive, present

# verify --archive finding kinds that are about one run, and what that run's row then says
RUN_FINDINGS = {"modified": "modified", "invalid": "invalid-signature", "unsigned": "unsigned",
                "deleted": "deleted", "fork": "fork", "broken-link": "broken-link"}


@dataclass(frozen=True)
class Period:
    """[start, end): --from's midnight UTC to the midnight after --to."""

    start: datetime
    end: datetime

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end


@dataclass
class PackRun:
    cluster: str
    run: str
    generated_at: str
    seq: int | None = None
    status: str = "ok"  # ok, or the first of RUN_FINDINGS' words that applies; pruned when only attested
    exit_code: int | None = None
    summary: dict[str, int] = field(default_factory=dict)
    report_sha256: str = ""
    statement_sha256: str = ""
    signature_ok: bool | None = None  # None: no key given, or no bundle
    findings: list[str] = field(default_factory=list)
    document: dict[str, Any] | None = None


@dataclass(frozen=True)
class Slot:
    cluster: str
    start: str
    end: str
    runs: list[str]


def period_runs(out: Path, cluster: str, period: Period, public: ec.EllipticCurvePublicKey | None,
                verdict: ClusterVerdict | None, warn: Callable[[str], None]) -> list[PackRun]:
    """The cluster's runs generated inside the period, oldest first, with their verification."""
    now = datetime.now(UTC).strftime(archive.STAMP_FORMAT)
    rows: dict[str, PackRun] = {}
    for run in archive.runs(out, cluster, now, warn):
        moment = _stamp_time(run.name)
        if not period.holds(moment):
            continue
        doc = run.document
        row = PackRun(cluster, run.name, str(doc["generated_at"]) if doc else moment.isoformat(),
                      document=doc)
        if doc is not None:
            row.summary = {k: int(v) for k, v in doc["summary"].items()}
            row.exit_code = exit_code(row.summary)
        report = run.path / "report.json"
        if report.is_file() and not report.is_symlink():
            from driftcheck.evidence.statement import file_sha256

            row.report_sha256 = file_sha256(report)
        signed = run.path / bundle.FILE_NAME
        if signed.is_file():
            _attested(row, signed, public)
        else:
            row.status = "unsigned"
        rows[run.name] = row
    for path in sorted((out / cluster / chain.CHAIN_DIR).glob("*.sigstore.json")):
        try:
            read = bundle.parse(path.read_bytes())
        except (OSError, ValueError):
            continue  # verify --archive names it (unreadable)
        name = str((read.statement.predicate.get("run") or {}).get("name", ""))
        at = present.parse_time(str((read.statement.predicate.get("report") or {}).get("generatedAt")))
        if name in rows or not period.holds(at):
            continue
        row = PackRun(cluster, name, at.isoformat() if at else "", status="pruned")
        _attested(row, path, public)
        row.summary = dict((read.statement.predicate.get("report") or {}).get("summary") or {})
        row.exit_code = exit_code(row.summary) if row.summary else None
        rows[name] = row
    for finding in verdict.findings if verdict else []:
        named = rows.get(finding.run)
        if named is not None and finding.kind in RUN_FINDINGS:
            named.findings.append(finding.message)
            if named.status in ("ok", "pruned"):
                named.status = RUN_FINDINGS[finding.kind]
    return sorted(rows.values(), key=lambda r: (r.generated_at, r.run))


def _attested(row: PackRun, path: Path, public: ec.EllipticCurvePublicKey | None) -> None:
    try:
        read = bundle.parse(path.read_bytes())
    except (OSError, ValueError):
        row.status = "unreadable"
        return
    link = chain.link_of(read)
    row.seq = link.get("seq") if link else None
    row.statement_sha256 = read.body_sha256
    row.report_sha256 = row.report_sha256 or read.statement.subjects.get("report.json", "")
    row.signature_ok = bundle.signature_ok(read, public) if public is not None else None


def _stamp_time(name: str) -> datetime:
    return datetime.strptime(name[:16], archive.STAMP_FORMAT).replace(tzinfo=UTC)


def exit_code(summary: dict[str, Any]) -> int:
    """check's exit code from a report's summary: 2 on errors or anything unknown, 1 on drift."""
    if summary.get("errors") or summary.get("unknown"):
        return 2
    return 1 if any(summary.get(k) for k in ("drifted", "missing", "extra")) else 0


def slots(cron: str, cluster: str, period: Period, runs: list[PackRun]) -> list[Slot]:
    """Every slot of the schedule that started inside the period (and before now), with the runs made
    before the next slot began."""
    now = datetime.now(UTC)
    try:
        start = (period.start if croniter.match(cron, period.start)
                 else croniter(cron, period.start).get_next(datetime))
    except (CroniterBadCronError, ValueError) as exc:
        raise DriftcheckError(f"--schedule {cron!r}: not a cron schedule ({exc})") from exc
    found: list[Slot] = []
    timed = [(present.parse_time(r.generated_at), r.run) for r in runs]
    for _ in range(MAX_SLOTS):
        if start >= period.end or start > now:
            return found
        end = croniter(cron, start).get_next(datetime)
        held = [name for moment, name in timed if moment is not None and start <= moment < end]
        found.append(Slot(cluster, start.isoformat(), end.isoformat(), held))
        start = end
    raise DriftcheckError(f"--schedule {cron!r}: more than {MAX_SLOTS} slots in the period")
