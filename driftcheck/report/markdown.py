"""The Markdown summary: what a ticket or pull-request comment needs, and nothing a reader must scroll past.

Values from the cluster or Git are put in code spans or escaped, so a hostile name cannot inject markup.
"""

from __future__ import annotations

import re
from typing import Any

from driftcheck.report import present

MAX_LISTED = 50  # beyond this a ticket is the wrong place; the HTML report has everything


def render_markdown(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    cluster = doc["cluster"]["context"] or doc["cluster"]["server"] or doc["cluster"]["snapshot"] or "cluster"
    source = doc["source"]
    at = f", at {text(source['at'])}" if source["at"] else ""
    lines = [
        f"## driftcheck: {text(cluster)}",
        "",
        f"{code(source['repo'] or '')} at {code(present.short(source['commit']))} "
        f"({text(source['revision'] or 'HEAD')}{at}), run {present.when(doc['generated_at'])}",
        "",
        "| drifted | missing | extra | unknown | errors | in sync | total |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s['drifted']} | {s['missing']} | {s['extra']} | {s['unknown']} | {s['errors']} | {s['in_sync']} "
        f"| {s['total']} |",
    ]
    differing = [r for r in doc["resources"] if r["status"] != "in-sync"]
    differing.sort(key=lambda r: present.severity(r["status"]))
    if differing:
        lines += ["", "| status | resource | app | fields | since |", "|---|---|---|---|---|"]
        for r in differing[:MAX_LISTED]:
            ident = f"{r['kind']}/{r['namespace'] + '/' if r['namespace'] else ''}{r['name']}"
            fields = ", ".join(code(d["path"]) for d in r["differences"]) or text(r["reason"])
            lines.append(f"| {r['status']} | {code(ident)} | {text(r['app'])} | {fields} | "
                         f"{present.drift_age(r['first_seen'], doc['generated_at'], r['status'])} |")
        if len(differing) > MAX_LISTED:
            lines.append(f"\n… and {len(differing) - MAX_LISTED} more in the HTML report.")
    if doc["errors"]:
        lines += ["", "**Errors**", ""]
        lines += [error_line(e) for e in doc["errors"][:MAX_LISTED]]
    lines += ["", f"Digest {code(doc['digest'])} — check with `driftcheck verify report.json`.", ""]
    return "\n".join(lines)


def error_line(e: dict[str, Any]) -> str:
    where = code(f"{e['file']}:{e['line']}" if e["line"] else e["file"]) + " " if e["file"] else ""
    return f"- {text(e['app'] or 'run')}: {where}{text(e['message'])}"


def code(value: str) -> str:
    """A code span that no backtick or newline in value can break out of."""
    value = str(value).replace("\n", " ").replace("|", "\\|")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}" if value else ""


def text(value: str) -> str:
    """Plain text with Markdown and HTML punctuation escaped, on one line."""
    value = str(value).replace("\n", " ")
    return re.sub(r"([\\`*_\[\]#!|<>&~])", r"\\\1", value)
