"""`driftcheck evidence`: the auditor's pack for a period, built from the report archive `check` writes.

Files (docs/evidence.md): summary.html (prints to PDF), runs.csv, deploys.csv/json, drift.csv/json (the
population of changes), exceptions.csv, ignore-rules.csv, coverage.csv, completeness.json,
verification.json, pack.json (parameters and counts) and, with a key, pack.sigstore.json: an in-toto
Statement whose subjects are every other file of the pack, signed as `check` signs its runs.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from driftcheck import __version__
from driftcheck.evidence import (
    bundle,
    dsse,
    keys,
    pack_changes,
    pack_exceptions,
    pack_rules,
    pack_runs,
    statement,
)
from driftcheck.evidence.archive_check import verify_archive
from driftcheck.evidence.pack_model import Pack, PackOptions, parameters
from driftcheck.evidence.pack_runs import PackRun, Period, Slot
from driftcheck.model import DriftcheckError
from driftcheck.report import archive

PACK_PREDICATE = "https://github.com/driftcheck/driftcheck/attestation/evidence-pack/v1"
SIGNED_NAME = "pack.sigstore.json"


def parse_period(start: str, end: str) -> Period:
    try:
        first = datetime.strptime(start, "%Y-%m-%d").replace(tzinfo=UTC)
        last = datetime.strptime(end, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise DriftcheckError(f"--from/--to must be dates as YYYY-MM-DD ({exc})") from exc
    if last < first:
        raise DriftcheckError(f"--to {end} is before --from {start}")
    return Period(first, last + timedelta(days=1))


def build(options: PackOptions, warn: Callable[[str], None]) -> Pack:
    """Everything the pack says, read from the archive (nothing is written here)."""
    period = parse_period(options.start, options.end)
    if not options.archive.is_dir():
        raise DriftcheckError(f"{options.archive}: not a report archive directory")
    public = keys.load_public(options.public_key) if options.public_key else None
    verdicts = verify_archive(options.archive, public, options.schedule, options.repo)
    by_cluster = {v.cluster: v for v in verdicts}
    clusters = options.clusters or archive.clusters(options.archive)
    if not clusters:
        raise DriftcheckError(f"{options.archive}: no cluster directories: not a report archive")
    warnings: list[str] = []
    runs: list[PackRun] = []
    slots: list[Slot] = []
    for cluster in clusters:
        found = pack_runs.period_runs(options.archive, cluster, period, public, by_cluster.get(cluster),
                                      warnings.append)
        runs += found
        if options.schedule:
            slots += pack_runs.slots(options.schedule, cluster, period, found)
    exceptions = None
    if options.exceptions:
        exceptions = pack_exceptions.load(options.exceptions, options.exceptions_repo, options.exceptions_ref)
        warnings += exceptions.errors
    episodes = pack_changes.episodes(runs)
    pack_exceptions.apply(exceptions, episodes)
    rules, unlisted = pack_rules.rules_in_force(runs)
    pack_rules.introduce(rules, options.repo, __version__)
    for message in warnings:
        warn(message)
    pack = Pack(options, period, datetime.now(UTC).isoformat(timespec="seconds"), runs, slots,
                [asdict(v) for v in verdicts if v.cluster in clusters],
                pack_changes.deploy_events(runs, period),
                episodes, exceptions, rules, unlisted, [], [], warnings)
    from driftcheck.evidence.pack_scope import completeness, coverage

    pack.coverage = coverage(clusters, runs)
    pack.completeness = completeness(clusters, runs, slots, by_cluster, period, options.schedule)
    return pack


def write(pack: Pack, signer: keys.Signer | None) -> list[Path]:
    """The pack's files in options.out (which must not exist yet, or be empty); -> the paths written."""
    from driftcheck.evidence import pack_html, pack_tables

    out = pack.options.out
    if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
        raise DriftcheckError(f"{out}: exists and is not an empty directory; a pack is never written over")
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {name: _csv(rows) for name, rows in pack_tables.tables(pack).items()}
    files["deploys.json"] = _json(pack.deploys)
    files["drift.json"] = _json([{**asdict(e), "reverted": e.reverted} for e in pack.episodes])
    files["verification.json"] = _json(pack.verdicts)
    files["completeness.json"] = _json(pack.completeness)
    files["pack.json"] = _json(parameters(pack, signer))
    files["summary.html"] = pack_html.render(pack, signer.key_id if signer else "").encode()
    written = []
    for name, data in sorted(files.items()):
        written.append(_write_new(out / name, data))
    if signer is not None:
        subjects = {path.name: statement.file_sha256(path) for path in written}
        body = statement.encode(subjects, parameters(pack, signer), PACK_PREDICATE)
        written.append(_write_new(out / SIGNED_NAME, bundle.make(body, signer)))
    return written


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return buffer.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: a leading =, +, - or @ is quoted with ' (CSV injection)."""
    text = "" if value is None else ("yes" if value is True else "no" if value is False else str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=sorted) + "\n").encode()


def _write_new(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    return path


def pack_problems(out: Path, public: Any) -> list[str]:
    """What is wrong with a written pack against its signed statement ([] when every file verifies): a bad
    signature, a file whose digest differs, a file the statement does not name, a named file absent."""
    try:
        document = json.loads((out / SIGNED_NAME).read_bytes())
        body = dsse.verify(document.get("dsseEnvelope"), public)
        signed = json.loads(body)
    except (OSError, ValueError) as exc:
        return [f"{out / SIGNED_NAME}: {exc}"]
    if signed.get("predicateType") != PACK_PREDICATE:
        return [f"{out / SIGNED_NAME}: not an evidence-pack statement"]
    subjects = {str(s.get("name")): str((s.get("digest") or {}).get("sha256"))
                for s in signed.get("subject", [])}
    problems = [f"{name}: not signed" for name in sorted(p.name for p in out.iterdir())
                if name != SIGNED_NAME and name not in subjects]
    for name, digest in sorted(subjects.items()):
        path = out / name
        if not path.is_file() or path.is_symlink():
            problems.append(f"{name}: absent")
        elif statement.file_sha256(path) != digest:
            problems.append(f"{name}: MODIFIED")
    return problems
