"""`driftcheck check`: the main job — audit, write the reports, print the summary, choose the exit code."""

from __future__ import annotations

import time
from collections.abc import Callable

import click

from driftcheck.commands import EXIT_DRIFT, EXIT_ERROR, EXIT_IN_SYNC
from driftcheck.commands.options import CheckOptions, resolved
from driftcheck.model import AuditReport


def run(options: CheckOptions, progress: Callable[[str], None]) -> int:
    """Exit 0 when in sync, 1 when anything drifted, is missing or extra, 2 on errors."""
    from driftcheck.audit import run_audit
    from driftcheck.report import parse_formats, write_reports
    from driftcheck.report.terminal import summary_table

    output = options.output
    formats = parse_formats(output.formats)  # a typo fails now, not after the whole audit
    signer = None
    if output.sign_key is not None:  # a wrong passphrase fails now too
        from driftcheck.evidence import keys

        signer = keys.load_signer(output.sign_key, keys.passphrase(output.sign_key_passphrase_env,
                                                                   output.sign_key_passphrase_file))
    options = resolved(options)
    started = time.monotonic()
    reports, explained = run_audit(options, progress=progress)
    for report in reports:      # one per destination cluster, each with its own archive
        report.duration_seconds = time.monotonic() - started
        written = write_reports(report, output.out, formats, keep=output.keep,
                                metrics_file=output.metrics_file, pushgateway=output.pushgateway,
                                on_wait=progress, signer=signer)
        if output.output == "table":
            click.echo(summary_table(report))
        for path in written.paths:
            progress(f"wrote {path}")
        if written.bundle is not None:
            progress(f"signed {written.bundle} (chained as {written.chain_link})")
    if explained is not None:
        click.echo(explained)
    return max(exit_code(report) for report in reports)


def exit_code(report: AuditReport) -> int:
    """2 when something could not be checked, 1 when anything differs, 0 when all is in sync."""
    if report.errors or any(r.status == "unknown" for r in report.resources):
        return EXIT_ERROR
    if any(r.status != "in-sync" for r in report.resources):
        return EXIT_DRIFT
    return EXIT_IN_SYNC
