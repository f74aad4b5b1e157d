"""`driftcheck verify`: check a JSON report's digest and say which part changed if it does not match;
with --archive, check every cluster's signed chain (evidence/archive_check.py), in a directory or in an
S3 bucket (evidence/s3_check.py)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from driftcheck.textsafe import for_terminal


def run(report_file: Path) -> int:
    """Exit 0 when the report is intact, 1 when it is not."""
    from driftcheck.report.verify import verify

    result = verify(report_file)
    click.echo(result.message())
    return 0 if result.ok else 1


def run_archive(archive: str, key: Path | None, cron: str | None, repo: Path | None, output: str,
                s3_endpoint: str | None = None) -> int:
    """Exit 0 when no cluster has a finding, 1 when any has, 2 when the archive cannot be read."""
    from driftcheck.evidence.archive_check import verify_archive
    from driftcheck.evidence.keys import load_public
    from driftcheck.model import DriftcheckError

    public = load_public(key) if key else None
    if archive.startswith("s3://"):
        from driftcheck.evidence.s3_check import verify_s3_archive
        from driftcheck.report.s3store import S3Store, parse_url

        verdicts = verify_s3_archive(S3Store(parse_url(archive), s3_endpoint), public, cron, repo)
        if not verdicts:
            raise DriftcheckError(f"{archive}: no objects under this prefix: not a report archive")
    else:
        out = Path(archive)
        if not out.is_dir():
            raise DriftcheckError(f"{out}: not a report archive directory")
        verdicts = verify_archive(out, public, cron, repo)
        if not verdicts:
            raise DriftcheckError(f"{out}: no cluster directories: not a report archive")
    if output == "json":
        click.echo(json.dumps([asdict(v) for v in verdicts], indent=2))
    else:
        for verdict in verdicts:
            span = (f"seq {verdict.first_seq}-{verdict.last_seq}" if verdict.first_seq is not None
                    else "no signed runs")
            state = f"{len(verdict.findings)} finding(s)" if verdict.findings else "OK"
            click.echo(for_terminal(f"{verdict.cluster}: {state}: {verdict.links} link(s), {span}, "
                       f"{verdict.pruned} pruned (attested, report absent)"))
            for finding in verdict.findings:
                click.echo(for_terminal(f"  {finding.message}"))
            for note in verdict.notes:
                click.echo(for_terminal(f"  note: {note}"))
    return 1 if any(v.findings for v in verdicts) else 0
