"""What the cluster's own Kustomization object says of its deploys, beside the Git history of its inputs.

kustomize-controller keeps `status.lastAppliedRevision` / `lastAttemptedRevision` (`<ref>@sha1:<sha>`)
and, since v1.7 (Flux 2.5), `status.history` (fluxcd/pkg `apis/meta/history.go`): at most 5 snapshots,
newest first, one per (build digest, status), each with `firstReconciled`, `lastReconciled`,
`totalReconciliations` and `metadata.revision`. Upsert overwrites that revision at every reconcile of
the same digest, so it is the *latest* revision that built this content: "applied N after the commit"
is given only when that commit is not younger than the snapshot's first reconcile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import git

from driftcheck.flux.objects import KUSTOMIZE_GROUP
from driftcheck.model import App, LiveState, ResourceKey

HISTORY_MAX = 5
CommitDate = Callable[[str], datetime | None]


def revision_commit(revision: str) -> str:
    """The commit SHA of a Flux revision (`main@sha1:<sha>`, `sha1:<sha>`, or a bare SHA), else ""."""
    tail = revision.rsplit("@", 1)[-1]
    digest = tail.split(":", 1)[1] if ":" in tail else tail
    return digest if len(digest) in (40, 64) and all(c in "0123456789abcdef" for c in digest) else ""


def kustomization_status(body: Mapping[str, Any] | None, commit_date: CommitDate) -> dict[str, Any] | None:
    """The app's `flux` block for the report: revisions and the reconcile history; None without status."""
    status = body.get("status") if isinstance(body, Mapping) else None
    if not isinstance(status, Mapping):
        return None
    history = status.get("history")
    return {
        "last_applied_revision": str(status.get("lastAppliedRevision") or ""),
        "last_attempted_revision": str(status.get("lastAttemptedRevision") or ""),
        "history": [_snapshot(s, commit_date) for s in (history if isinstance(history, list) else [])
                    if isinstance(s, Mapping)][:HISTORY_MAX],
    }


def _snapshot(snapshot: Mapping[str, Any], commit_date: CommitDate) -> dict[str, Any]:
    meta = snapshot.get("metadata")
    revision = str(meta.get("revision") or "") if isinstance(meta, Mapping) else ""
    commit = revision_commit(revision)
    committed = commit_date(commit) if commit else None
    first = _time(snapshot.get("firstReconciled"))
    total = snapshot.get("totalReconciliations")
    entry: dict[str, Any] = {
        "revision": revision, "commit": commit,
        "committed": committed.isoformat() if committed else None,
        "digest": str(snapshot.get("digest") or ""),
        "first_reconciled": str(snapshot.get("firstReconciled") or ""),
        "last_reconciled": str(snapshot.get("lastReconciled") or ""),
        "total_reconciliations": total if isinstance(total, int) and not isinstance(total, bool) else 0,
        "status": str(snapshot.get("lastReconciledStatus") or ""),
        "applied": "",
    }
    if committed is not None and first is not None and committed <= first:
        entry["applied"] = f"applied {_span((first - committed).total_seconds())} after the commit"
    return entry


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _span(seconds: float) -> str:
    """A delay in the largest unit that fits: 40 s, 12 min, 3 h, 2 d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def git_commit_date(repo: Any) -> CommitDate:
    """The committer date of a commit of this repository, or None when it does not have it."""
    def date(sha: str) -> datetime | None:
        try:
            when: datetime = repo.commit(sha).committed_datetime
            return when
        except (ValueError, git.BadName, git.BadObject):  # a commit this repository does not have
            return None
    return date


def flux_statuses(apps: list[App], live: LiveState, repo: Any) -> dict[str, dict[str, Any]]:
    """app name -> {"flux": ...} for each Flux app whose Kustomization the live state holds with a status."""
    wanted = {ResourceKey(KUSTOMIZE_GROUP, "Kustomization", f.namespace, f.name): app.name for app in apps
              if (f := app.primary.render.flux) is not None and app.primary.render.tool == "flux"}
    if not wanted:
        return {}
    dates = git_commit_date(repo)
    out = {}
    for res in live.resources:
        if res.key in wanted and (status := kustomization_status(res.body, dates)) is not None:
            shown = f"{res.key.namespace}/{res.key.name}"
            out[wanted[res.key]] = {"flux": {"kustomization": shown, **status}}
    return out
