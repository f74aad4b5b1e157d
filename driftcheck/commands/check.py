"""`driftcheck check`: the main job — audit, write the reports, print the summary, choose the exit code."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from driftcheck.clusters.fleet import ClusterResult
from driftcheck.commands import EXIT_DRIFT, EXIT_ERROR, EXIT_IN_SYNC
from driftcheck.commands.options import CheckOptions, OutputOptions, S3Options, resolved
from driftcheck.model import AuditReport, DriftcheckError

if TYPE_CHECKING:
    from pathlib import Path

    from driftcheck.evidence.keys import Signer
    from driftcheck.report.s3store import S3Store


def run(options: CheckOptions, progress: Callable[[str], None]) -> int:
    """Exit 0 when in sync, 1 when anything drifted, is missing or extra, 2 on errors; over several
    clusters, the worst of them (a cluster that could not be read is 2)."""
    from driftcheck.fleet_audit import run_fleet
    from driftcheck.report import parse_formats, write_reports
    from driftcheck.report.archive import cluster_slug
    from driftcheck.report.terminal import summary_table

    output = options.output
    formats = parse_formats(output.formats)  # a typo fails now, not after the whole audit
    if output.s3 is not None and output.keep is not None:
        raise DriftcheckError("--keep does not apply to --out s3://: Object Lock retention (--retain-days) "
                              "decides how long runs are kept; expire them with a lifecycle rule")
    signer = None
    if output.sign_key is not None:  # a wrong passphrase fails now too
        from driftcheck.evidence import keys

        signer = keys.load_signer(output.sign_key, keys.passphrase(output.sign_key_passphrase_env,
                                                                   output.sign_key_passphrase_file))
    store = _s3_store(output.s3, options.cluster.request_timeout) if output.s3 else None  # fails now too
    options = resolved(options)
    started = time.monotonic()
    codes: list[int] = []
    archives: dict[str, str] = {}
    tables: dict[str, str] = {}

    def publish(result: ClusterResult, several: bool) -> None:
        """Write one cluster's reports as soon as it is audited (others may still be), `several` when it
        is one of the run's clusters."""
        report = result.report
        if report is None:
            progress(f"cluster {result.name}: not audited: {result.error}")
            codes.append(EXIT_ERROR)
            return
        slug = cluster_slug(report.cluster)
        if slug in archives:  # two clusters in one archive directory would mix their runs and drift age
            progress(f"cluster {result.name}: not written: its archive directory {slug} is "
                     f"{archives[slug]}'s too; map it to a context or snapshot of another name")
            codes.append(EXIT_ERROR)
            return
        archives[slug] = result.name
        codes.append(exit_code(report))
        report.duration_seconds = time.monotonic() - started
        if store is not None and output.s3 is not None:
            _write_s3(report, store, output.s3, formats, output, signer, progress)
        else:
            in_fleet = several or options.shard is not None
            written = write_reports(report, output.out, formats, keep=output.keep,
                                    metrics_file=output.metrics_file, pushgateway=output.pushgateway,
                                    on_wait=progress, signer=signer, fleet=in_fleet)
            for path in written.paths:
                progress(f"wrote {path}")
            if written.bundle is not None:
                progress(f"signed {written.bundle} (chained as {written.chain_link})")
        heading = f"cluster {result.name} ({slug}):\n" if several else ""
        tables[result.name] = heading + summary_table(report)
        result.report = None  # written: a fleet run holds the reports being written, not all of them

    fleet = run_fleet(options, progress, publish)
    several = len(fleet.results) > 1
    if output.output == "table":
        for result in fleet.results:  # in the plan's order, whatever order they were written in
            if result.name in tables:
                click.echo(tables[result.name])
    if fleet.explained is not None:
        click.echo(fleet.explained)
    if (several or options.shard is not None) and store is None:
        _write_fleet(output.out, fleet.results, {name: slug for slug, name in archives.items()}, progress)
    return max(codes, default=EXIT_IN_SYNC)  # a shard with no cluster of its own has nothing to fail


def _write_fleet(out: Path, results: list[ClusterResult], slugs: dict[str, str],
                 progress: Callable[[str], None]) -> None:
    """fleet.json and index.html over every cluster's latest run (this run's and other shards')."""
    from driftcheck.report.fleet import Outcome, write_summary

    outcomes = [Outcome(r.name, r.server, r.apps, slugs.get(r.name), r.error or
                        ("" if r.name in slugs else "its report was not written")) for r in results]
    written = write_summary(out, outcomes, progress)
    progress(f"wrote {written.json} and {written.html} (fleet exit status {written.exit_status})")


def _s3_store(s3: S3Options, timeout: float) -> S3Store:
    """The bucket, checked before the audit: Object Lock must be on, --keep cannot apply to it."""
    from driftcheck.report.s3store import S3Store, parse_url

    store = S3Store(parse_url(s3.url), s3.endpoint, timeout)
    store.require_object_lock()
    return store


def _write_s3(report: AuditReport, store: S3Store, s3: S3Options, formats: list[str], output: OutputOptions,
              signer: Signer | None, progress: Callable[[str], None]) -> None:
    from driftcheck.report.s3archive import write_reports_s3
    from driftcheck.report.s3store import Retention

    written = write_reports_s3(report, store, Retention(s3.retain_mode, s3.retain_days), formats,
                               metrics_file=output.metrics_file, pushgateway=output.pushgateway,
                               on_wait=progress, signer=signer)
    for url in written.urls:
        progress(f"wrote {url} ({s3.retain_mode} retention, {s3.retain_days} days)")
    if written.seq is not None:
        progress(f"signed and chained as seq {written.seq}: {written.chain_link}")
    progress(f"published {written.manifest}")


def exit_code(report: AuditReport) -> int:
    """2 when something could not be checked, 1 when anything differs, 0 when all is in sync."""
    if report.errors or any(r.status == "unknown" for r in report.resources):
        return EXIT_ERROR
    if any(r.status != "in-sync" for r in report.resources):
        return EXIT_DRIFT
    return EXIT_IN_SYNC
