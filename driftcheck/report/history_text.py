"""The `history` command's stdout: deploy histories as a terminal table, Markdown or JSON.

Commit messages, authors and paths are anyone's text: escaped for Markdown (no HTML, no links) or for
the terminal (no control character reaches it raw).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from driftcheck.evidence import provenance
from driftcheck.history import HistoryApp, HistoryResult
from driftcheck.history.changes import describe
from driftcheck.model import DeployEvent
from driftcheck.report.markdown import code as markdown_code
from driftcheck.report.markdown import text as markdown_text
from driftcheck.textsafe import for_terminal


def format_histories(found: Sequence[tuple[HistoryApp, HistoryResult]], fmt: str,
                     verified: bool = False) -> str:
    """Histories as `table` (terminal), `md` (Markdown) or `json` ({apps: [{app, path, events, ...}]});
    `source` says where an app of another repository or of a chart repository was read; `verified`
    (--trusted-signers): the provenance findings too, a list in JSON, one line otherwise."""
    events = [e for _, r in found for e in r.events]
    if fmt == "json":
        apps = [{"app": app.name, "path": app.path, **({"source": r.source} if r.source else {}),
                 "events": [_event_json(e) for e in r.events], "notes": r.notes,
                 "errors": [asdict(e) for e in r.errors]} for app, r in found]
        shown: dict[str, Any] = {"apps": apps}
        if verified:
            shown["findings"] = [f for e in events for f in provenance.findings(e)]
        return json.dumps(shown, indent=2, ensure_ascii=False)
    md = fmt == "md"
    safe = markdown_text if md else for_terminal
    lines: list[str] = []
    for app, result in found:
        title = f"{safe(app.name)} ({safe(app.path)}{' in ' if app.path and result.source else ''}" \
                f"{safe(result.source)})"
        lines.append(f"## {title}" if md else f"app {title}")
        if md and result.events:
            lines += ["", "| date | commit | author | change |", "|---|---|---|---|"]
        for event in result.events:
            details = _details(event)
            if md:
                cell = "<br>".join(safe(d) for d in [event.message, *details])
                commit = markdown_code(event.commit[:12])
                lines.append(f"| {safe(event.date)} | {commit} | {safe(event.author)} | {cell} |")
            else:
                lines.append(f"  {safe(event.date)}  {safe(event.commit[:12])}  {safe(event.author)}  "
                             f"{safe(event.message)}")
                lines += [f"      {safe(d)}" for d in details]
        if not result.events:
            lines.append("no deploys in the chosen range")
        lines += [("- " if md else "  ") + f"note: {safe(n)}" for n in result.notes]
        lines += [("- " if md else "  ") + f"error: {safe(str(e))}" for e in result.errors]
        lines.append("")
    if verified:
        found_list = [f for e in events for f in provenance.findings(e)]
        lines.append(safe(provenance.summary_line(found_list, len(events))))
    return "\n".join(lines).rstrip("\n")


def _event_json(event: DeployEvent) -> dict[str, Any]:
    """An event as JSON; `sources` only where something changed there (other events read as before)."""
    entry = asdict(event)
    if not event.sources:
        del entry["sources"]
    return entry


def _details(event: DeployEvent) -> list[str]:
    out = [describe(s) for s in event.sources]
    out += [f"image {i['resource']} {i['container']}: {i['from'] or '(none)'} → {i['to'] or '(none)'}"
           for i in event.images]
    out += [f"replicas {r['resource']}: {r['from']} → {r['to']}" for r in event.replicas]
    for r in event.resources:
        name = "/".join(p for p in (r["namespace"], r["name"]) if p)
        if r["change"] == "kind-changed":
            out.append(f"kind {r['from_kind']} → {r['kind']}: {name}")
        elif r["change"] != "modified":
            out.append(f"{r['change']} {r['kind']}/{name}")
        elif not all(f.endswith("/image") or f == "/spec/replicas" for f in r["fields"]):  # else shown above
            out.append(f"modified {r['kind']}/{name}: {', '.join(r['fields'][:6])}"
                       + (" ..." if len(r["fields"]) > 6 else ""))
    shown = ", ".join(event.files[:3]) + (f" (+{len(event.files) - 3} more)" if len(event.files) > 3 else "")
    out.append(f"files: {shown}")
    if event.revert_of:
        out.append(f"reverts {event.revert_of[:12]}")
    if event.restores:
        out.append(f"restores the state of {event.restores[:12]} (rollback)")
    if event.merged:
        out.append(f"merges {', '.join(s[:12] for s in event.merged)}")
    if event.note:
        out.append(event.note)
    if event.signature is not None:
        out.append(provenance.signature_text(event.signature, event.landing))
    return out

