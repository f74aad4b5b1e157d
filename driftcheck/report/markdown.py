"""The Markdown summary: what a ticket or pull-request comment needs, and nothing a reader must scroll past.

Every value from the cluster or Git goes through `code` or `text`, so a hostile one cannot inject markup:
no raw HTML (`<img onerror=…>`), link (`[x](javascript:…)`), emphasis or table cell, and no line break
(control characters, CR and LF included, are shown as visible escapes like `\\x1b`, as on a terminal).
"""

from __future__ import annotations

import re
from typing import Any

from driftcheck import kube
from driftcheck.report import present
from driftcheck.textsafe import for_terminal

MAX_LISTED = 50  # beyond this a ticket is the wrong place; the HTML report has everything
# The ASCII punctuation that starts emphasis, code, a heading, an HTML tag, an entity, a link or a cell.
PUNCTUATION = re.compile(r"([\\`*_\[\]#!|<>&~])")


def render_markdown(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    cluster = doc["cluster"]["context"] or doc["cluster"]["server"] or doc["cluster"]["snapshot"] or "cluster"
    source = doc["source"]
    at = f", at {text(source['at'])}" if source["at"] else ""
    lines = [
        f"## driftcheck: {text(cluster)}",
        "",
        f"{code(source['repo'] or '')} at {code(present.short(source['commit']))} "
        f"({text(source['revision'] or 'HEAD')}{at}), run {text(present.when(doc['generated_at']))}",
        "",
        "| drifted | missing | extra | unknown | errors | in sync | total |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s['drifted']} | {s['missing']} | {s['extra']} | {s['unknown']} | {s['errors']} | {s['in_sync']} "
        f"| {s['total']} |",
    ]
    differing = [r for r in doc["resources"] if r["status"] != "in-sync"]
    differing.sort(key=lambda r: kube.severity(r["status"]))
    if differing:
        lines += ["", "| status | resource | app | fields | since |", "|---|---|---|---|---|"]
        for r in differing[:MAX_LISTED]:
            ident = f"{r['kind']}/{r['namespace'] + '/' if r['namespace'] else ''}{r['name']}"
            fields = ", ".join(code(d["path"]) for d in r["differences"]) or text(r["reason"])
            since = present.drift_age(r["first_seen"], doc["generated_at"], r["status"])
            lines.append(f"| {text(r['status'])} | {code(ident)} | {text(r['app'])} | {fields} | "
                         f"{text(since)} |")
        if len(differing) > MAX_LISTED:
            lines.append(f"\n… and {len(differing) - MAX_LISTED} more in the HTML report.")
    if doc.get("audit_log"):
        lines += who_changed_it(doc)
    if doc.get("provenance"):
        lines += commit_provenance(doc["provenance"])
    lines += sources(doc)
    if doc["errors"]:
        lines += ["", "**Errors**", ""]
        lines += [error_line(e) for e in doc["errors"][:MAX_LISTED]]
    if doc.get("warnings"):
        lines += ["", "**Warnings**", ""]
        lines += [error_line(e) for e in doc["warnings"][:MAX_LISTED]]
    lines += ["", f"Digest {code(doc['digest'])} — check with `driftcheck verify report.json`.", ""]
    return "\n".join(lines)


def who_changed_it(doc: dict[str, Any]) -> list[str]:
    """With --audit-log: GitOps-impersonation findings first, then who made each drifted field's change."""
    audit = doc["audit_log"]
    lines = ["", f"**Who changed it** ({audit['fields']['attributed']} of {sum(audit['fields'].values())} "
                 "drifted fields attributed from the audit log)", ""]
    for f in audit["findings"]:
        lines.append(f"- **GitOps impersonation**: {code(f['resource'])} {code(f['path'])} under manager "
                     f"{code(f['manager'])} made by {text(', '.join(f['users']))} at {text(f['time'])}")
    for r in doc["resources"]:
        for d in r["differences"]:
            identity = (d["changed_by"] or {}).get("identity")
            if identity is None:
                continue
            lines.append(f"- {code(r['kind'] + '/' + r['name'])} {code(d['path'])} "
                         f"({text(d['changed_by']['manager'])}): {text(who(identity))}")
            if len(lines) > MAX_LISTED + 3:
                return [*lines, "", "… the rest in the HTML report."]
    return lines


def sources(doc: dict[str, Any]) -> list[str]:
    """Apps rendered from charts or other repositories: what each resolved to, and the hooks listed."""
    apps = [a for a in doc["apps"] if present.notable_sources(a)]
    if not apps:
        return []
    lines = ["", "**Sources** (as resolved this run; hooks are listed, not compared)", ""]
    for a in apps[:MAX_LISTED]:
        parts = [code(present.source_line(s)) for s in a.get("sources") or []]
        parts += [text(note) for note in a.get("resolved") or []]
        if a.get("hooks"):
            parts.append("hooks: " + ", ".join(f"{code(h['resource'])} ({text(h['types'])})"
                                               for h in a["hooks"][:10])
                         + (f" and {len(a['hooks']) - 10} more" if len(a["hooks"]) > 10 else ""))
        lines.append(f"- {text(a['name'])}: " + "; ".join(parts))
    if len(apps) > MAX_LISTED:
        lines.append(f"\n… and {len(apps) - MAX_LISTED} more in the HTML report.")
    return lines


def commit_provenance(section: dict[str, Any]) -> list[str]:
    """With --trusted-signers: deploys without a trusted signature or forge merge; what Git cannot tell."""
    count = f"{len(section['findings'])} findings in {section['deploys']} deploys"
    lines = ["", f"**Commit provenance** ({count}; checked against "
                 f"{code(section['trusted_signers']['file'])})", ""]
    for f in section["findings"][:MAX_LISTED]:
        lines.append(f"- **{text(f['finding'])}** {code(present.short(f['commit']))} {text(f['app'])} "
                     f"{text(f['date'])} {text(f['committer'])}: {text(f['detail'])}")
    if len(section["findings"]) > MAX_LISTED:
        lines.append(f"\n… and {len(section['findings']) - MAX_LISTED} more in the HTML report.")
    return [*lines, "", text(section["limits"])]


def who(identity: dict[str, Any]) -> str:
    if identity["status"] == "attributed":
        acting = f" as {identity['impersonated_user']}" if identity["impersonated_user"] else ""
        return f"{identity['user']}{acting} from {', '.join(identity['source_ips'])} at {identity['time']}"
    if identity["status"] == "ambiguous":
        return f"ambiguous: {', '.join(identity['candidates'])}"
    return f"no audit event: {identity['reason']}"


def error_line(e: dict[str, Any]) -> str:
    where = code(f"{e['file']}:{e['line']}" if e["line"] else e["file"]) + " " if e["file"] else ""
    return f"- {text(e['app'] or 'run')}: {where}{text(e['message'])}"


def code(value: str) -> str:
    """A code span that no backtick, line break or table pipe in value can break out of."""
    value = for_terminal(value).replace("|", "\\|")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}" if value else ""


def text(value: str) -> str:
    """Plain text with Markdown and HTML punctuation escaped, on one line."""
    return PUNCTUATION.sub(r"\\\1", for_terminal(value))
