"""What the cluster's own Kustomization object says of its deploys, beside the Git history of its inputs.

kustomize-controller keeps `status.lastAppliedRevision` / `lastAttemptedRevision` (`<ref>@sha1:<sha>`)
and, since v1.7 (Flux 2.5), `status.history` (fluxcd/pkg `apis/meta/history.go`): at most 5 snapshots,
newest first, one per (build digest, status), each with `firstReconciled`, `lastReconciled`,
`totalReconciliations` and `metadata.revision`. Upsert overwrites that revision at every reconcile of
the same digest, so it is the *latest* revision that built this content: "applied N after the commit"
is given only when that commit is not younger than the snapshot's first reconcile.

helm-controller keeps a HelmRelease's `status.lastAttemptedRevision` (the chart version it last tried)
and `status.history` (api/v2 `Snapshots`, newest first): one per Helm release revision with chartName,
chartVersion, appVersion, status, digest, configDigest, firstDeployed and lastDeployed; each entry says
what changed from the one before it ("chart 6.5.0 → 6.6.1", "values changed") and when it was deployed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import git

from driftcheck.flux.objects import HELM_GROUP, KUSTOMIZE_GROUP
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


def helm_release_status(body: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The app's `flux` block for a HelmRelease: the attempted chart version and the release history."""
    status = body.get("status") if isinstance(body, Mapping) else None
    if not isinstance(status, Mapping):
        return None
    raw = status.get("history")
    snapshots = [s for s in (raw if isinstance(raw, list) else []) if isinstance(s, Mapping)]
    history = []
    for i, snap in enumerate(snapshots):
        entry: dict[str, Any] = {key: str(snap.get(field) or "") for key, field in _SNAPSHOT_FIELDS}
        version = snap.get("version")
        entry["version"] = version if isinstance(version, int) and not isinstance(version, bool) else 0
        entry["change"] = _change(snap, snapshots[i + 1]) if i + 1 < len(snapshots) else "first release"
        entry["deployed"] = f"deployed {entry['first_deployed']}" if entry["first_deployed"] else ""
        history.append(entry)
    return {"last_attempted_revision": str(status.get("lastAttemptedRevision") or ""), "history": history}


_SNAPSHOT_FIELDS = (("chart", "chartName"), ("chart_version", "chartVersion"), ("app_version", "appVersion"),
                    ("status", "status"), ("digest", "digest"), ("config_digest", "configDigest"),
                    ("first_deployed", "firstDeployed"), ("last_deployed", "lastDeployed"))


def _change(newer: Mapping[str, Any], older: Mapping[str, Any]) -> str:
    """What a release revision changed from the one before it, in words."""
    changes = []
    if newer.get("chartName") != older.get("chartName"):
        changes.append(f"chart {older.get('chartName')} → {newer.get('chartName')}")
    if newer.get("chartVersion") != older.get("chartVersion"):
        changes.append(f"chart {older.get('chartVersion')} → {newer.get('chartVersion')}")
    if newer.get("appVersion") != older.get("appVersion") and newer.get("appVersion"):
        changes.append(f"app {older.get('appVersion') or '-'} → {newer.get('appVersion')}")
    if newer.get("configDigest") != older.get("configDigest"):
        changes.append("values changed")
    return ", ".join(changes) or "same chart and values"


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
    """app name -> {"flux": ...} for each Flux app whose Kustomization or HelmRelease the live state holds
    with a status."""
    wanted = {ResourceKey(KUSTOMIZE_GROUP, "Kustomization", f.namespace, f.name): app.name for app in apps
              if (f := app.primary.render.flux) is not None and app.primary.render.tool == "flux"}
    releases = {ResourceKey(HELM_GROUP, "HelmRelease", h.namespace, h.name): app.name for app in apps
                if (h := app.primary.render.helm_release) is not None}
    if not wanted and not releases:
        return {}
    dates = git_commit_date(repo)
    out = {}
    for res in live.resources:
        shown = f"{res.key.namespace}/{res.key.name}"
        if res.key in wanted and (status := kustomization_status(res.body, dates)) is not None:
            out[wanted[res.key]] = {"flux": {"kustomization": shown, **status}}
        elif res.key in releases and (status := helm_release_status(res.body)) is not None:
            out[releases[res.key]] = {"flux": {"helmrelease": shown, **status}}
    return out
