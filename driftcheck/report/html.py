"""The HTML audit report: one self-contained page (inline CSS and JS, no network) rendered by jinja2.

Built from the sealed JSON document, so the page shows exactly what report.json says. Autoescaping is
on for every template; the Content-Security-Policy allows only our own stylesheet and script, by hash.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from functools import cache
from importlib import resources as package_files
from typing import Any

import jinja2

from driftcheck.evidence import provenance
from driftcheck.kube import AppTally, tally_apps
from driftcheck.model import CommitSignature, Landing
from driftcheck.report import present

# The resource list leads with what differs from Git (what to fix), then what could not be read; apps
# are ranked by `kube.SEVERITY` instead, which puts an unreadable app first.
RESOURCE_ORDER = ("drifted", "missing", "extra", "unknown", "in-sync")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("driftcheck.report", "templates"),
                             autoescape=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(when=present.when, day=present.day, short=present.short, yaml=present.yaml_text,
                       words=lambda s: present.STATUS_WORDS.get(s, s))
    return env


def asset(name: str) -> str:
    return package_files.files("driftcheck.report").joinpath(f"templates/{name}").read_text("utf-8")


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def content_security_policy(style: str, script: str | None) -> str:
    """Nothing may load or run except the page's own inline stylesheet and script."""
    script_src = csp_hash(script) if script is not None else "'none'"
    return (f"default-src 'none'; style-src {csp_hash(style)}; script-src {script_src}; "
            "base-uri 'none'; form-action 'none'")


def render_html(doc: dict[str, Any]) -> Iterator[str]:
    """The page in pieces as jinja2 makes them: written one by one, a 20 MB page (20,000 objects) is never
    held whole, as text and again as bytes, at the run's peak memory."""
    style, script = asset("report.css"), asset("report.js")
    resources = sorted(doc["resources"], key=lambda r: (
        RESOURCE_ORDER.index(r["status"]), r["app"], r["group"], r["kind"], r["namespace"], r["name"]))
    return environment().get_template("report.html.j2").generate(
        doc=doc, style=style, script=script, csp=content_security_policy(style, script),
        verdict=verdict(doc["summary"]), app_rows=app_rows(doc), resources=resources,
        unknown=[r for r in resources if r["status"] == "unknown"],
        kinds=sorted({r["kind"] for r in resources}), apps=sorted({r["app"] for r in resources}),
        statuses=[s for s in RESOURCE_ORDER if any(r["status"] == s for r in resources)],
        tiles=[(key, status, doc["summary"][key]) for key, status in present.SUMMARY_KEYS.items()],
        age=lambda r: present.drift_age(r["first_seen"], doc["generated_at"], r["status"]),
        live_commit=present.live_commit_text, pointer=present.pointer_parts, search_text=search_text,
        history=history_rows(doc["history"]), source_rows=source_rows(doc),
        flagged={(f["commit"], f["app"]) for f in (doc.get("provenance") or {}).get("findings", [])})


def verdict(summary: dict[str, int]) -> tuple[str, str, str]:
    """(css class, headline, explanation) for the banner at the top of the page."""
    differ = summary["drifted"] + summary["missing"] + summary["extra"]
    unchecked = summary["unknown"] + summary["errors"]
    parts = []
    if differ:
        parts.append(f"{differ} of {summary['total']} resources differ from Git")
    if summary["unknown"]:
        parts.append(f"{summary['unknown']} could not be read")
    if summary["errors"]:
        parts.append(f"{summary['errors']} error{'s' if summary['errors'] != 1 else ''}")
    if differ:
        return ("drifted", "Drift found", "; ".join(parts) + ".")
    if unchecked:
        return ("unknown", "Incomplete", "; ".join(parts) + ": the cluster may differ where it was not seen.")
    if summary["total"] == 0:
        return ("unknown", "Nothing checked", "No resources were found in Git or in the cluster.")
    if summary["total"] == 1:
        return ("in-sync", "In sync", "The 1 resource checked matches Git.")
    return ("in-sync", "In sync", f"All {summary['total']} resources checked match Git.")


def app_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-app counts from the resources themselves, worst news first; skipped apps last."""
    info = {a["name"]: a for a in doc["apps"]}
    tallies = tally_apps(info, ((r["app"], r["status"]) for r in doc["resources"]),
                         (e["app"] for e in doc["errors"]),
                         skipped=(a["name"] for a in doc["apps"] if a.get("status") == "skipped"))
    return [{"name": t.name, "status": t.status, "counts": t.counts, "errors": t.errors,
             "path": info.get(t.name, {}).get("path", ""), "origin": info.get(t.name, {}).get("origin", ""),
             "reason": info.get(t.name, {}).get("reason", "")}
            for t in sorted(tallies, key=AppTally.worst_first)]


def source_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Apps whose sources say more than this repository at the run's commit: their sources in words,
    what the render resolved (dependencies) and their hooks."""
    return [{"name": a["name"], "sources": [present.source_line(s) for s in a.get("sources") or []],
             "resolved": a.get("resolved") or [], "hooks": a.get("hooks") or []}
            for a in doc["apps"] if present.notable_sources(a)]


def search_text(r: dict[str, Any]) -> str:
    """What the search box matches: identity, file and every differing or ignored path."""
    words = [r["app"], r["group"], r["kind"], r["namespace"], r["name"], r["status"], r["reason"]]
    if r["source"]:
        words.append(r["source"]["file"])
    words += [d["path"] for d in r["differences"]] + [i["path"] for i in r["ignored"]]
    return " ".join(w for w in words if w).lower()


def history_rows(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deploy events newest first, each with its kind of change named: revert, rollback, merge, change."""
    rows = []
    for e in history:
        kind = ("revert" if e["revert_of"] else "rollback" if e["restores"] else
                "merge" if e["merged"] else "change")
        rows.append({**e, "kind": kind, "provenance": provenance_text(e)})
    return rows


def provenance_text(e: dict[str, Any]) -> str:
    """The event's signature and landing in words ('' for a report from before they were recorded)."""
    if not e.get("signature") or not e.get("landing"):
        return ""
    landing = Landing(**{**e["landing"], "notes": tuple(e["landing"]["notes"])})
    return provenance.signature_text(CommitSignature(**e["signature"]), landing)
