"""write_reports: one run's reports into the archive, with drift age, index, pruning and metrics.

The JSON is always kept in the run directory, whatever --format says: the archive's drift age and its
index are built from it. Everything is written under the archive lock; the run directory appears whole
or not at all, and index and metrics file are replaced atomically.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftcheck.model import AuditReport, DriftcheckError
from driftcheck.report import archive, json_report, metrics
from driftcheck.report.atomic import atomic_write, staged_directory
from driftcheck.report.drift_age import fill_first_seen
from driftcheck.report.fleet import RUNS_PAGE
from driftcheck.report.index import render_index
from driftcheck.textsafe import for_terminal

if TYPE_CHECKING:
    from driftcheck.evidence.keys import Signer

FORMATS = ("html", "json", "md", "junit")
FILE_NAMES = {"html": "report.html", "json": "report.json", "md": "report.md", "junit": "report.xml"}


@dataclass
class WrittenReports:
    run_dir: Path
    paths: list[Path] = field(default_factory=list)  # the run's report files, in --format order
    index: Path | None = None
    pruned: list[Path] = field(default_factory=list)
    metrics_file: Path | None = None
    warnings: list[str] = field(default_factory=list)  # archive entries set aside, each named once
    bundle: Path | None = None  # report.sigstore.json, when the run was signed
    chain_link: Path | None = None  # its copy in <cluster>/chain/, which --keep never prunes


def parse_formats(text: str | list[str]) -> list[str]:
    """'html, json' or ['html', 'json'] -> ['html', 'json']; unknown names end the run with one line."""
    items = text.split(",") if isinstance(text, str) else list(text)
    chosen = list(dict.fromkeys(item.strip().lower() for item in items if item.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise DriftcheckError(f"unknown report format {', '.join(unknown)}: choose from {', '.join(FORMATS)}")
    return chosen or ["html", "json"]


def write_reports(report: AuditReport, out: Path, formats: list[str], keep: int | None = None,
                  metrics_file: Path | None = None, pushgateway: str | None = None,
                  on_wait: Callable[[str], None] | None = None,
                  signer: Signer | None = None, fleet: bool = False) -> WrittenReports:
    """Fill first_seen from the archive, then publish this run's reports; see the module docstring.

    on_wait gets the progress lines (waiting for the lock; archive entries set aside, each once). With a
    signer, the run's files are signed as they were written, and the bundle is chained (evidence/chain.py).
    The run history is index.html, or runs.html in a fleet archive (an archive that holds a fleet
    summary), whose index.html is the fleet summary that links to it. A fleet run (fleet) writes neither:
    its summary rebuilds both once at its end, rather than the history after each cluster's report.
    """
    chosen = parse_formats(formats)
    if keep is not None and keep < 1:
        raise DriftcheckError(f"--keep must be at least 1 (got {keep})")
    out = Path(out)
    cluster = archive.cluster_slug(report.cluster)
    published: Path | None = None  # set once the run directory exists, for an honest error message
    tell = on_wait or _tell_stderr
    warnings: list[str] = []

    def warn(message: str) -> None:  # the archive is read up to three times; each problem is told once
        if message not in warnings:
            warnings.append(message)
            tell(f"warning: {message}")

    try:
        with archive.archive_lock(out, tell):
            archive.remove_leftovers(out, cluster)
            now = archive.horizon(report.generated_at)
            fill_first_seen(report, archive.runs(out, cluster, now, warn))
            doc = json_report.to_document(report)
            run_dir = archive.new_run_path(out, cluster, report.generated_at)
            with staged_directory(run_dir) as stage:
                for fmt in [*chosen, *([] if "json" in chosen else ["json"])]:
                    with open(stage / FILE_NAMES[fmt], "w", encoding="utf-8", newline="") as file:
                        file.writelines(render(fmt, doc))
                if signer is not None:
                    from driftcheck.evidence import chain

                    head = chain.head(archive.cluster_dir(out, cluster), warn)
                    seq, bundle = chain.sign_run(stage, doc, signer, cluster, run_dir.name, head)
            published = run_dir
            archive.WRITTEN_HEADINGS.remember(run_dir / FILE_NAMES["json"], doc)
            written = WrittenReports(run_dir)
            if signer is not None:
                written.bundle = run_dir / "report.sigstore.json"
                written.chain_link = chain.keep_link(archive.cluster_dir(out, cluster), seq, bundle)
            written.paths = [run_dir / FILE_NAMES[f] for f in chosen]
            if "json" not in chosen:
                written.paths.append(run_dir / FILE_NAMES["json"])
            written.warnings = warnings
            if keep is not None:
                written.pruned = archive.prune(out, cluster, keep, now, warn)
            if not fleet:
                page = RUNS_PAGE if (out / "fleet.json").is_file() else "index.html"
                written.index = atomic_write(out / page, render_index(out, now, warn))
            registry = metrics.registry_for(doc, cluster, report.duration_seconds)
            if metrics_file is not None:
                written.metrics_file = metrics.write_metrics_file(Path(metrics_file), registry)
    except OSError as exc:
        outcome = f"the reports are in {published}" if published else "the archive is unchanged"
        what = exc.filename or out
        raise DriftcheckError(f"cannot write {what}: {exc.strerror or exc}; {outcome}") from exc
    if pushgateway:
        metrics.push(pushgateway, registry, cluster)
    return written


def render(fmt: str, doc: dict[str, Any]) -> Iterable[str]:
    """The text of one format, in pieces where the renderer makes it so (HTML, the largest); every renderer
    reads the sealed document, so all formats agree."""
    if fmt == "json":
        return [json_report.dumps(doc)]
    if fmt == "html":
        from driftcheck.report.html import render_html

        return render_html(doc)
    if fmt == "md":
        from driftcheck.report.markdown import render_markdown

        return [render_markdown(doc)]
    if fmt == "junit":
        from driftcheck.report.junit import render_junit

        return [render_junit(doc)]
    raise ValueError(fmt)  # parse_formats let an unknown format through


def _tell_stderr(message: str) -> None:
    print(f"driftcheck: {for_terminal(message)}", file=sys.stderr)

