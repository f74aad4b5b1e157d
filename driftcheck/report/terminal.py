"""The summary printed on the terminal after a run: counts by status per app, worst news first.

App names and skip reasons come from Git: they are shown escaped, so a name can neither steer the
terminal nor add a row."""

from __future__ import annotations

from driftcheck.model import STATUSES, AuditReport
from driftcheck.textsafe import for_terminal

# Worst first (after errors): what could not be read, then what differs, then what is fine.
SEVERITY = ("unknown", "drifted", "missing", "extra", "in-sync")


def summary_table(report: AuditReport) -> str:
    """A plain-text table, one row per app plus a total row, apps with the worst news on top."""
    counts: dict[str, dict[str, int]] = {}
    for app in report.apps:
        counts.setdefault(str(app.get("name", "")), {s: 0 for s in STATUSES})
    for r in report.resources:
        counts.setdefault(r.app, {s: 0 for s in STATUSES})[r.status] += 1
    errors = {name: sum(1 for e in report.errors if e.app == name) for name in counts}
    rows = sorted(counts, key=lambda name: (-errors[name], *(-counts[name][s] for s in SEVERITY[:-1]), name))
    header = ["APP", *(s.upper() for s in SEVERITY), "ERRORS"]
    table = [[for_terminal(name), *(str(counts[name][s]) for s in SEVERITY), str(errors[name])]
             for name in rows]
    total = ["TOTAL", *(str(sum(c[s] for c in counts.values())) for s in SEVERITY), str(len(report.errors))]
    widths = [max(len(row[i]) for row in [header, *table, total]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                           strict=True)))

    out = [line(header), *(line(r) for r in table), line(total)]
    skipped = [for_terminal(f"skipped app {s.name}: {s.reason}") for s in report.skipped_apps]
    return "\n".join(out + skipped)
