"""`<out>/index.html`: every archived run per cluster with its counts, a trend chart, a link to the latest.

Static and self-contained like the report (inline CSS allowed by hash, no script at all); rebuilt from the
runs' report.json files after each run, under the archive lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftcheck.report import archive, present
from driftcheck.report.html import asset, content_security_policy, environment

CHART_W, CHART_H, PAD = 720, 150, 28
COUNTS = ("drifted", "missing", "extra", "unknown", "errors", "in_sync", "total")


@dataclass
class RunRow:
    name: str
    href: str  # the run's page: report.html if written, else report.json
    generated_at: str
    commit: str
    digest: str
    counts: dict[str, int] | None
    files: list[tuple[str, str]]  # (label, relative href)

    @property
    def differ(self) -> int:
        return sum(self.counts[k] for k in ("drifted", "missing", "extra")) if self.counts else 0

    @property
    def unchecked(self) -> int:
        return self.counts["unknown"] + self.counts["errors"] if self.counts else 0


def render_index(out: Path, now: str, warn: Callable[[str], None]) -> str:
    """The page over every cluster's runs up to `now` (archive.horizon); what is set aside goes to warn."""
    clusters = []
    for name in archive.clusters(out):
        rows = [run_row(out, run) for run in archive.runs(out, name, now, warn, headings=True)]
        if rows:
            clusters.append({"name": name, "runs": rows[::-1], "latest": rows[-1], "chart": chart(rows)})
    style = asset("index.css")
    return environment().get_template("index.html.j2").render(
        clusters=clusters, style=style, csp=content_security_policy(style, None), counts=COUNTS)


def run_row(out: Path, run: archive.ArchivedRun) -> RunRow:
    doc: dict[str, Any] = run.document or {}
    rel = run.path.relative_to(out).as_posix()
    files = [(p.suffix[1:], f"{rel}/{p.name}") for p in sorted(run.path.glob("report.*"))]
    page = next((href for label, href in files if label == "html"), f"{rel}/report.json")
    summary = doc.get("summary")
    counts = {k: int(summary.get(k, 0)) for k in COUNTS} if isinstance(summary, dict) else None
    commit = str((doc.get("source") or {}).get("commit") or "")
    return RunRow(run.name, page, str(doc.get("generated_at") or run.name), commit,
                  str(doc.get("digest") or ""), counts, files)


def chart(rows: list[RunRow]) -> dict[str, Any]:
    """Two series over the runs, oldest left: resources that differ from Git, and what was not checked."""
    peak = max([1, *(max(r.differ, r.unchecked) for r in rows)])
    step = (CHART_W - 2 * PAD) / max(1, len(rows) - 1)

    def point(i: int, value: int) -> tuple[float, float]:
        x = PAD + i * step if len(rows) > 1 else CHART_W / 2
        return (round(x, 1), round(CHART_H - PAD - value * (CHART_H - 2 * PAD) / peak, 1))

    series = []
    for key, label in (("differ", "differ from Git"), ("unchecked", "not checked")):
        points = [(*point(i, getattr(r, key)), getattr(r, key), r) for i, r in enumerate(rows)]
        series.append({"key": key, "label": label,
                       "path": " ".join(f"{x},{y}" for x, y, _, _ in points), "points": points})
    return {"w": CHART_W, "h": CHART_H, "pad": PAD, "peak": peak, "series": series,
            "first": present.day(rows[0].generated_at), "last": present.day(rows[-1].generated_at),
            "base": CHART_H - PAD}
