"""The v1 JSON report contract: AuditReport -> document, canonical bytes, and the digests that seal it.

Key order is fixed here, entries are sorted, and values are plain JSON, so two runs on the same inputs
produce byte-identical files apart from `generated_at`.

Digests (what `driftcheck verify` checks):
- canonical form of a value: JSON with keys sorted, separators "," and ":", UTF-8, no ASCII escaping;
- `digests.<section>`: sha256 of the canonical form of that top-level value (so verify can name it);
- `digest`: sha256 of the canonical form of the whole document without `digest`. It covers
  `generated_at` too: the time of an audit is part of what an auditor relies on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from datetime import UTC, datetime
from functools import cache
from importlib import resources as package_files
from typing import Any

import orjson

from driftcheck.model import (
    STATUSES,
    AppResolution,
    AuditReport,
    DeployEvent,
    FieldDiff,
    Identity,
    ResourceResult,
    RunError,
    split_api_version,
)

SCHEMA_ID = "driftcheck.report/v1"
# Manifests stay within 500 levels (source/yaml/limits.MAX_DEPTH); a report wraps a few levels around them.
MAX_DEPTH = 520
TOOL_NAME = "driftcheck"
# Sections sealed one by one so that verify can name the part that changed.
SECTIONS = ("schema", "generated_at", "tool", "source", "cluster", "rules", "summary", "apps", "resources",
            "coverage", "unmanaged", "history", "errors", "warnings", "audit_log", "provenance")
OPTIONAL = ("warnings", "provenance")  # sections sealed only when present: reports without stay as they were


def to_document(report: AuditReport) -> dict[str, Any]:
    """The report as the v1 contract: stable key order, sorted entries, plain JSON values, sealed."""
    doc: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "generated_at": report.generated_at,
        "tool": {"name": TOOL_NAME, "version": report.tool_version},
        "source": _pick(report.source, ("repo", "revision", "commit", "commit_date", "at")),
        "cluster": _pick(report.cluster, ("context", "server", "snapshot")),
        "rules": {"packs": sorted(plain(report.rules.get("packs") or [])),
                  "digest": plain(report.rules.get("digest")),
                  "unused": sorted(plain(report.rules.get("unused") or []), key=_sort_text),
                  **({"in_force": sorted(plain(report.rules["in_force"]), key=lambda r: str(r.get("id")))}
                     if "in_force" in report.rules else {})},
        "summary": summarize(report),
        "apps": _apps(report),
        "resources": [resource_entry(r) for r in sorted(report.resources, key=resource_order)],
        "coverage": sorted((plain(c) for c in report.coverage), key=lambda c: str(c.get("namespace", ""))),
        "unmanaged": sorted((plain(u) for u in report.unmanaged), key=_object_order),
        "history": [event_entry(e) for e in sorted(report.history, key=_event_order, reverse=True)],
        "errors": sorted((error_entry(e) for e in report.errors), key=_error_order),
    }
    if report.warnings:  # a section only when there are any: reports without stay as they were
        doc["warnings"] = sorted((error_entry(e) for e in report.warnings), key=_error_order)
    if report.audit_log is not None:  # --audit-log: the files read, what they cover, the findings
        doc["audit_log"] = plain(report.audit_log)
    if report.provenance is not None:  # --trusted-signers: the trust file, counts, the findings
        doc["provenance"] = plain(report.provenance)
    return seal(doc)


def seal(doc: dict[str, Any]) -> dict[str, Any]:
    """Add `digests` (one per section) and the overall `digest`; any previous seal is replaced."""
    body = {k: v for k, v in doc.items() if k not in ("digests", "digest")}
    forms = _section_forms(body)
    body["digests"] = {name: sha256(form) for name, form in forms.items()}
    body["digest"] = sha256(_canonical_from(body, forms))
    return body


def section_digests(doc: dict[str, Any]) -> dict[str, str]:
    return {name: sha256(form) for name, form in _section_forms(doc).items()}


def _section_forms(doc: dict[str, Any]) -> dict[str, bytes]:
    return {name: canonical(doc.get(name)) for name in SECTIONS if name in doc or name not in OPTIONAL}


def _canonical_from(doc: dict[str, Any], forms: dict[str, bytes]) -> bytes:
    """canonical(doc), byte for byte, reusing the canonical forms of its sections already made: encoding
    the thousands of resources once more for the overall digest was a third of writing a report."""
    return b"{" + b",".join(canonical(key) + b":" + (forms[key] if key in forms else canonical(doc[key]))
                            for key in sorted(doc)) + b"}"


def content_digest(doc: dict[str, Any]) -> str:
    return sha256(canonical({k: v for k, v in doc.items() if k != "digest"}))


def canonical(value: Any) -> bytes:
    """The one byte form digests are computed over; independent of key order in the file."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dumps(doc: dict[str, Any]) -> str:
    """The file form: indented for people and diff tools, contract key order kept, newline-terminated.

    orjson writes what json.dumps(indent=2) writes (floats aside: `1e-07` is `1e-7`, the same number)
    at a thirtieth of the cost, which in a fleet run was most of writing the reports; json.dumps takes
    what orjson refuses (an integer beyond 64 bits). Digests never depend on it: see canonical.
    """
    try:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode()
    except orjson.JSONEncodeError:
        return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def parse(text: str) -> Any:
    """JSON as a v1 report may hold it, or ValueError saying why not.

    Stricter than json.loads: a duplicate key (json.loads keeps the last one, a reader may see the first),
    NaN, Infinity, a number out of float range and nesting deeper than MAX_DEPTH are all refused, since
    none of them can come from to_document and each makes two readers see different documents.
    """
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant,
                           parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    if _depth(value) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {json.dumps(key, ensure_ascii=True)[:80]} in one object")
            seen.add(key)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:40]} is out of range")
    return number


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in value (at most MAX_DEPTH + 1), level by level: no recursion,
    so no depth can crash it. json.loads builds plain dicts and lists only, hence the exact type tests."""
    level, depth = [value] if type(value) in (dict, list) else [], 0
    while level and depth <= MAX_DEPTH:
        depth += 1
        below = []
        for item in level:
            for child in item.values() if type(item) is dict else item:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        level = below
    return depth


def summarize(report: AuditReport) -> dict[str, int]:
    counts = {s: 0 for s in STATUSES}
    for r in report.resources:
        counts[r.status] += 1
    return {"total": len(report.resources), "in_sync": counts["in-sync"], "drifted": counts["drifted"],
            "missing": counts["missing"], "extra": counts["extra"], "unknown": counts["unknown"],
            "errors": len(report.errors)}


def resource_order(r: ResourceResult) -> tuple[str, str, str, str, str]:
    return (r.app, r.key.group, r.key.kind, r.key.namespace, r.key.name)


def resource_entry(r: ResourceResult) -> dict[str, Any]:
    _, version = split_api_version(r.api_version) if r.api_version else ("", "")
    return {
        "app": r.app, "group": r.key.group, "version": version, "kind": r.key.kind,
        "namespace": r.key.namespace, "name": r.key.name, "status": r.status, "reason": r.reason,
        "source": {"file": r.source.file, "line": r.source.line} if r.source and r.source.file else None,
        "differences": [difference_entry(d) for d in sorted(r.diffs, key=lambda d: d.path)],
        "ignored": [{"path": i.path, "rule": i.rule}
                    for i in sorted(r.ignored, key=lambda i: (i.path, i.rule))],
        "live_commit": plain(r.live_commit) if r.live_commit else None,
        "first_seen": r.first_seen,
        **({"extra": r.extra} if r.extra else {}),
    }


def difference_entry(d: FieldDiff) -> dict[str, Any]:
    changed_by: dict[str, Any] | None = None
    if d.changed_by is not None:
        changed_by = {"manager": d.changed_by.manager, "operation": d.changed_by.operation,
                      "time": d.changed_by.time, "subresource": d.changed_by.subresource}
        if d.changed_by.identity is not None:
            changed_by["identity"] = identity_entry(d.changed_by.identity)
    return {"path": d.path, "desired": plain(d.desired), "live": plain(d.live), "changed_by": changed_by,
            "note": d.note}


def identity_entry(i: Identity) -> dict[str, Any]:
    """Who made the change, from the audit log: identity and request metadata only, never a body."""
    return {"status": i.status, "reason": i.reason, "confidence": i.confidence, "user": i.user,
            "groups": list(i.groups), "impersonated_user": i.impersonated_user,
            "impersonated_groups": list(i.impersonated_groups), "source_ips": list(i.source_ips),
            "user_agent": i.user_agent, "verb": i.verb, "time": i.time, "audit_id": i.audit_id,
            "evidence": i.evidence, "finding": i.finding, "candidates": list(i.candidates)}


def event_entry(e: DeployEvent) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "commit": e.commit, "date": e.date, "author": e.author, "committer": e.committer,
        "message": e.message, "app": e.app, "files": sorted(e.files), "resources": plain(e.resources),
        "images": plain(e.images), "replicas": plain(e.replicas), "revert_of": e.revert_of,
        "restores": e.restores, "merged": list(e.merged), "note": e.note,
        "signature": plain(e.signature), "landing": plain(e.landing)}
    if e.sources:  # a chart or revision bump, ...: only then, so other events read as they always have
        entry["sources"] = plain(e.sources)
    return entry


def resolution_entry(r: AppResolution) -> dict[str, Any]:
    """An app's `sources` (what each resolved to), `resolved` (the render's own resolutions, such as
    chart dependencies, in words) and `hooks` (listed, never compared), in the order they were met."""
    return {"sources": [{"type": s.type, "repository": s.repository, "path": s.path, "requested": s.requested,
                         "resolved": s.resolved, "digest": s.digest} for s in r.sources],
            "resolved": list(r.resolved),
            "hooks": sorted(({"resource": h.resource, "types": h.types, "file": h.file, "line": h.line}
                             for h in r.hooks), key=lambda h: (h["resource"], h["file"], h["line"]))}


def error_entry(e: RunError) -> dict[str, Any]:
    return {"message": e.message, "app": e.app, "stage": e.stage, "file": e.file, "line": e.line,
            "resource": e.resource}


def plain(value: Any) -> Any:
    """Any value a stage hands over -> plain JSON (dataclasses, tuples, sets, datetimes included)."""
    kind = type(value)  # the exact types first: most of a report is these, and isinstance is slower
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): plain(v) for k, v in value.items()}
    if kind is list:
        return [plain(v) for v in value]
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=_sort_text)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of the v1 contract, shipped as package data."""
    text = package_files.files("driftcheck.report").joinpath("schema/report-v1.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def schema_problems(doc: Any) -> list[str]:
    """Every place where doc breaks the v1 schema, as 'path: message' lines (empty when valid)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema())
    problems = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in problems]


def _pick(values: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: plain(values.get(k)) for k in keys}


def _apps(report: AuditReport) -> list[dict[str, Any]]:
    """The apps that ran, plus the ones skipped (status "skipped", with the reason), by name."""
    rows = [plain(a) for a in report.apps]
    for row in rows:
        resolution = report.resolutions.get(str(row.get("name")))
        if resolution is not None:  # rendered this run: its sources as resolved, and its hooks
            row.update(resolution_entry(resolution))
    named = {row.get("name") for row in rows}
    rows += [{"name": s.name, "origin": s.origin, "status": "skipped", "reason": s.reason}
             for s in report.skipped_apps if s.name not in named]
    return sorted(rows, key=lambda a: str(a.get("name", "")))


def _object_order(entry: dict[str, Any]) -> tuple[str, ...]:
    return (*(str(entry.get(k, "")) for k in ("group", "kind", "namespace", "name")), _sort_text(entry))


def _event_order(e: DeployEvent) -> tuple[datetime, str]:
    try:
        moment = datetime.fromisoformat(e.date)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    except ValueError:
        moment = datetime.min.replace(tzinfo=UTC)
    return (moment.astimezone(UTC), e.commit)


def _error_order(e: dict[str, Any]) -> tuple[str, str, str, int, str, str]:
    return (e["app"], e["stage"], e["file"], e["line"], e["resource"], e["message"])


def _sort_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
