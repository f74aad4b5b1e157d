"""What an evidence period covered: per cluster and app, how many runs checked it and why the others did
not, and the completeness statement (every scheduled run present, every cluster and app checked)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from driftcheck.evidence.archive_check import ClusterVerdict
from driftcheck.evidence.pack_runs import PackRun, Period, Slot
from driftcheck.report import present

NOT_CHECKED = ("skipped", "error")


def coverage(clusters: list[str], runs: list[PackRun]) -> list[dict[str, Any]]:
    """One row per cluster and app seen in the period's readable reports (a cluster without any: one row
    saying so)."""
    rows = []
    for cluster in clusters:
        mine = [r for r in runs if r.cluster == cluster]
        readable = [r for r in mine if r.document is not None]
        apps: dict[str, list[tuple[PackRun, dict[str, Any] | None]]] = defaultdict(list)
        for run in readable:
            for app in run.document["apps"] if run.document else []:
                apps[str(app.get("name"))].append((run, app))
        if not apps:
            rows.append({"cluster": cluster, "app": "", "runs": len(mine), "checked": 0, "not_checked": 0,
                         "why_not": "no readable report in the period" if mine else "no run in the period",
                         "namespaces": "", "resources_last_run": 0, "last_status": ""})
            continue
        for name in sorted(apps):
            seen = apps[name]
            reasons = Counter(str(app.get("reason") or app.get("status")) for _r, app in seen
                              if app and app.get("status") in NOT_CHECKED)
            checked = len(seen) - sum(reasons.values())
            absent = len(readable) - len(seen)
            if absent:
                reasons["not declared in the audited commit"] += absent
            last_run, last = seen[-1]
            resources = [e for e in (last_run.document or {}).get("resources", []) if e.get("app") == name]
            rows.append({"cluster": cluster, "app": name, "runs": len(readable),
                         "checked": checked,
                         "not_checked": sum(reasons.values()),
                         "why_not": "; ".join(f"{why} ({n} runs)" for why, n in sorted(reasons.items())),
                         "namespaces": " ".join(sorted({str(e.get("namespace")) for e in resources})),
                         "resources_last_run": len(resources),
                         "last_status": str((last or {}).get("status"))})
    return rows


def completeness(clusters: list[str], runs: list[PackRun], slots: list[Slot],
                 verdicts: dict[str, ClusterVerdict], period: Period,
                 cron: str | None) -> list[dict[str, Any]]:
    """Per cluster: the facts and the statement a person reads."""
    statements = []
    for cluster in clusters:
        mine = [r for r in runs if r.cluster == cluster]
        seqs = sorted(r.seq for r in mine if r.seq is not None)
        bad = [r for r in mine if r.status not in ("ok", "pruned")]
        missed = [s.start for s in slots if s.cluster == cluster and not s.runs]
        expected = [s for s in slots if s.cluster == cluster]
        verdict = verdicts.get(cluster)
        gaps = [f.message for f in (verdict.findings if verdict else [])
                if f.kind == "gap" and _in(f.seq, seqs)]
        not_checked = [row for row in coverage([cluster], mine) if row["not_checked"] or not row["app"]]
        complete = bool(mine) and not bad and not missed and not gaps and not not_checked
        start, end = present.when(period.start.isoformat()), present.when(period.end.isoformat())
        lines = [f"Period {start} to {end}, cluster {cluster}:"]
        if cron:
            lines.append(f"schedule {cron!r} (UTC): {len(expected)} slots, "
                         f"{len(expected) - len(missed)} with a run, {len(missed)} missed"
                         + (f" ({', '.join(present.when(m) for m in missed[:10])}"
                            f"{', …' if len(missed) > 10 else ''})" if missed else "") + ".")
        else:
            lines.append("no --schedule given: slots not checked.")
        span = f"seq {seqs[0]}-{seqs[-1]}" if seqs else "no signed runs"
        contiguous = seqs == list(range(seqs[0], seqs[-1] + 1)) if seqs else False
        order = ", contiguous" if contiguous else ", NOT contiguous" if seqs else ""
        verified, pruned = sum(r.status == "ok" for r in mine), sum(r.status == "pruned" for r in mine)
        lines.append(f"{len(mine)} runs ({span}{order}); {verified} verify, {pruned} "
                     f"attested with the report pruned, {len(bad)} with findings"
                     + (f" ({'; '.join(sorted({r.status for r in bad}))})" if bad else "") + ".")
        if not_checked:
            lines.append("Not every app was checked in every run: "
                         + "; ".join(f"{r['app'] or '(cluster)'}: {r['why_not']}" for r in not_checked) + ".")
        else:
            lines.append("Every app was checked in every run.")
        lines.append("COMPLETE." if complete else "NOT COMPLETE: see the findings above.")
        statements.append({"cluster": cluster, "complete": complete, "runs": len(mine),
                           "slots": len(expected), "missed_slots": missed,
                           "seq_first": seqs[0] if seqs else None,
                           "seq_last": seqs[-1] if seqs else None, "seq_contiguous": contiguous,
                           "runs_with_findings": [{"run": r.run, "status": r.status, "findings": r.findings}
                                                  for r in bad],
                           "gaps": gaps, "apps_not_always_checked": not_checked,
                           "statement": " ".join(lines)})
    return statements


def _in(seq: int | None, seqs: list[int]) -> bool:
    return seq is not None and bool(seqs) and seqs[0] <= seq <= seqs[-1] + 1
