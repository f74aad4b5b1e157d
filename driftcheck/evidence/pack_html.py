"""The evidence pack's summary page: one self-contained HTML file that prints to PDF (A4 landscape, the
period in every page's header, page numbers, table headers repeated and no row cut across pages).

Every table of the pack is shown, the longest cut at MAX_ROWS with the CSV named for the rest. Autoescaped;
no script; the stylesheet is allowed by hash only.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from driftcheck.evidence import pack_tables
from driftcheck.evidence.pack_model import Pack, parameters
from driftcheck.report import present
from driftcheck.report.html import content_security_policy

MAX_ROWS = 400
NUMERIC = {"seq", "exit_code", "total", "in_sync", "drifted", "missing", "extra", "unknown", "errors", "runs",
           "checked", "not_checked", "runs_seen", "runs_unused", "resources", "episodes", "line",
           "resources_last_run"}
LONG = {"report_sha256", "findings", "path", "spec", "match", "commit", "introduced_commit",
        "desired", "live", "why_not"}  # may break anywhere: digests, JSON, field paths
TIMES = {"first_seen", "last_seen", "resolved_at", "date", "slot", "until"}  # shown as 2026-10-01 02:17 UTC
BAD_WORDS = {"unsigned-direct-push", "untrusted", "bad", "direct",
             "missed", "modified", "invalid-signature", "unsigned", "deleted", "fork", "broken-link",
             "unexplained", "expired", "unreadable"}
# (file, title, what it is, the columns the page shows)
SHOWN = [
    ("runs.csv", "Runs", "Every run of the period, its place in the signed chain and its verification.",
     ["cluster", "seq", "run", "status", "exit_code", "total", "drifted", "missing", "extra", "unknown",
      "errors", "signature_ok", "report_sha256", "findings"]),
    ("slots.csv", "Schedule slots", "Each slot of the schedule in the period and the runs that filled it.",
     ["cluster", "slot", "until", "status", "runs"]),
    ("deploys.csv", "Deploy events", "Every commit that changed what an app deploys, dated in the period.",
     ["cluster", "date", "commit", "app", "author", "subject", "images", "revert_of", "signature", "signer",
      "landing", "landing_evidence", "pr"]),
    ("drift.csv", "Drift (out-of-band changes)", "Every drifted field seen in the period: since when, until "
     "when, who changed it, and its disposition.",
     ["cluster", "app", "kind", "namespace", "name", "path", "first_seen", "last_seen", "resolved_at",
      "resolution", "manager", "user", "exception", "owner", "ticket", "disposition"]),
    ("exceptions.csv", "Exceptions", "The dispositions in exceptions.yaml and the episodes each covers.",
     ["id", "match", "owner", "ticket", "disposition", "expires", "episodes"]),
    ("ignore-rules.csv", "Ignore rules in force", "Control exclusions: what hid which differences, and the "
     "commit that introduced each.",
     ["rule_id", "file", "app", "spec", "runs", "runs_unused", "introduced_commit", "introduced_by", "note"]),
    ("coverage.csv", "Coverage", "Per cluster and app: the runs that checked it and why the others did not.",
     ["cluster", "app", "runs", "checked", "not_checked", "why_not", "namespaces", "resources_last_run",
      "last_status"]),
]


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("driftcheck.evidence", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=present.when)
    return env


def render(pack: Pack, key_id: str) -> str:
    params = parameters(pack, None)
    header = f"Period {pack.options.start} to {pack.options.end} (UTC)"
    footer = f"pack signed by key {key_id[:16]}" if key_id else "pack not signed"
    css = environment().get_template("pack.css.j2").render(header=header, footer=footer)
    rows = pack_tables.tables(pack)
    tables: list[dict[str, Any]] = []
    for file, title, about, columns in SHOWN:
        shown = [{c: present.when(row.get(c)) if c in TIMES else _text(row.get(c)) for c in columns}
                 for row in rows[file][:MAX_ROWS]]
        tables.append({"file": file, "title": title, "about": about, "columns": columns, "rows": shown,
                       "count": len(rows[file])})
    unexplained = sum(1 for e in pack.episodes if (e.exception or {}).get("disposition") in (None, "expired"))
    return environment().get_template("pack.html.j2").render(
        p=params, css=css, csp=content_security_policy(css, None), completeness=pack.completeness,
        tables=tables, key_id=key_id, warnings=pack.warnings, unexplained=unexplained, numeric=NUMERIC,
        bad_words=BAD_WORDS, long=LONG)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "yes" if value else "no"
    return str(value)
