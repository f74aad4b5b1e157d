"""The summary printed on the terminal after a run: counts by status per app, worst news first.

App names and skip reasons come from Git: they are shown escaped, so a name can neither steer the
terminal nor add a row."""

from __future__ import annotations

from driftcheck.evidence import provenance
from driftcheck.kube import VERDICT_SEVERITY, AppTally, tally_apps
from driftcheck.model import AuditReport
from driftcheck.textsafe import for_terminal


def summary_table(report: AuditReport) -> str:
    """A plain-text table, one row per app plus a total row, apps with the worst news on top."""
    verdicts = ((r.app, r.status) for r in report.resources)
    tallies = sorted(tally_apps((str(a.get("name", "")) for a in report.apps), verdicts,
                                (e.app for e in report.errors)), key=AppTally.worst_first)
    header = ["APP", *(s.upper() for s in VERDICT_SEVERITY), "ERRORS"]
    table = [[for_terminal(t.name), *(str(t.counts[s]) for s in VERDICT_SEVERITY), str(t.errors)]
             for t in tallies]
    total = ["TOTAL", *(str(sum(t.counts[s] for t in tallies)) for s in VERDICT_SEVERITY),
             str(len(report.errors))]
    widths = [max(len(row[i]) for row in [header, *table, total]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                           strict=True)))

    out = [line(header), *(line(r) for r in table), line(total)]
    skipped = [for_terminal(f"skipped app {s.name}: {s.reason}") for s in report.skipped_apps]
    findings = [for_terminal(f"FINDING gitops-impersonation: {f['resource']} {f['path']} under manager "
                             f"{f['manager']} made by {', '.join(f['users'])} at {f['time']}")
                for f in (report.audit_log or {}).get("findings", [])]
    if report.provenance is not None:  # --trusted-signers: one line, the findings are in the reports
        findings.append(for_terminal(provenance.summary_line(report.provenance["findings"],
                                                             report.provenance["deploys"])))
    return "\n".join(out + skipped + findings)
