"""The evidence pack's tables, as rows of named columns: the CSV files, and what the summary page shows."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from driftcheck.evidence.pack_changes import field_rows

if TYPE_CHECKING:
    from driftcheck.evidence.pack_model import Pack

SUMMARY_KEYS = ("total", "in_sync", "drifted", "missing", "extra", "unknown", "errors")


def tables(pack: Pack) -> dict[str, list[dict[str, Any]]]:
    return {"runs.csv": runs(pack), "deploys.csv": deploys(pack), "drift.csv": drift(pack),
            "exceptions.csv": exceptions(pack), "ignore-rules.csv": rules(pack),
            "coverage.csv": pack.coverage, "slots.csv": slots(pack)}


def runs(pack: Pack) -> list[dict[str, Any]]:
    return [{"cluster": r.cluster, "seq": r.seq, "run": r.run, "generated_at": r.generated_at,
             "status": r.status, "exit_code": r.exit_code,
             **{k: r.summary.get(k, "") for k in SUMMARY_KEYS},
             "signature_ok": r.signature_ok, "report_sha256": r.report_sha256,
             "statement_sha256": r.statement_sha256, "findings": " | ".join(r.findings)} for r in pack.runs]


def deploys(pack: Pack) -> list[dict[str, Any]]:
    rows = []
    for e in pack.deploys:
        signature, landing = e.get("signature") or {}, e.get("landing") or {}
        extra = {k: v for k, v in e.items() if k not in _DEPLOY_KNOWN}
        rows.append({"cluster": e["cluster"], "commit": e.get("commit"), "date": e.get("date"),
                     "app": e.get("app"), "author": e.get("author"), "committer": e.get("committer"),
                     "subject": str(e.get("message") or "").splitlines()[0] if e.get("message") else "",
                     "resources": len(e.get("resources") or []),
                     "images": "; ".join(f"{i.get('resource')} {i.get('from')} -> {i.get('to')}"
                                         for i in e.get("images") or [] if isinstance(i, dict)),
                     "replicas": "; ".join(f"{i.get('resource')} {i.get('from')} -> {i.get('to')}"
                                           for i in e.get("replicas") or [] if isinstance(i, dict)),
                     "revert_of": e.get("revert_of") or "", "restores": e.get("restores") or "",
                     "merged": " ".join(e.get("merged") or []), "first_checked_at": e.get("first_checked_at"),
                     # commit provenance (check --trusted-signers), when the reports carry it
                     "signature": signature.get("status", ""), "signer": signature.get("signer", ""),
                     "signing_key": signature.get("key", ""), "landing": landing.get("kind", ""),
                     "landing_evidence": landing.get("evidence", ""), "pr": landing.get("pr", ""),
                     # anything else a later version adds to deploy events: kept, as JSON
                     "other": json.dumps(extra, sort_keys=True) if extra else ""})
    return rows


_DEPLOY_KNOWN = {"cluster", "commit", "date", "author", "committer", "message", "app", "files", "resources",
                 "images", "replicas", "revert_of", "restores", "merged", "note", "first_checked_at",
                 "signature", "landing"}


def drift(pack: Pack) -> list[dict[str, Any]]:
    rows = []
    for episode in pack.episodes:
        exception = episode.exception or {}
        for row in field_rows(episode):
            rows.append({**row, "exception": exception.get("id", ""), "owner": exception.get("owner", ""),
                         "ticket": exception.get("ticket", ""),
                         "disposition": exception.get("disposition", "unexplained")})
    return rows


def exceptions(pack: Pack) -> list[dict[str, Any]]:
    if pack.exceptions is None:
        return []
    return [{"id": e.id, "line": e.line, "match": json.dumps(e.match, sort_keys=True), "owner": e.owner,
             "ticket": e.ticket, "disposition": e.disposition, "reason": e.reason, "expires": e.expires,
             "approved_by": e.approved_by, "episodes": len(e.matched), "episode_ids": " ".join(e.matched),
             "source": pack.exceptions.shown, "commit": pack.exceptions.commit}
            for e in pack.exceptions.entries]


def rules(pack: Pack) -> list[dict[str, Any]]:
    return [{"rule_id": r.id, "file": r.file, "app": r.app or "(all)",
             "clusters": " ".join(sorted(r.clusters)),
             "spec": json.dumps(r.spec, sort_keys=True), "first_run": r.first_run, "last_run": r.last_run,
             "runs": r.runs, "runs_unused": r.unused_runs, "introduced_commit": r.introduced_commit,
             "introduced_by": r.introduced_by, "introduced_at": r.introduced_at, "note": r.introduced_note}
            for r in pack.rules]


def slots(pack: Pack) -> list[dict[str, Any]]:
    return [{"cluster": s.cluster, "slot": s.start, "until": s.end, "status": "ran" if s.runs else "missed",
             "runs": " ".join(s.runs)} for s in pack.slots]
