"""Deploys made in an app's declaration: its Application (or driftcheck.yaml entry) file's own commits.

A chart version bump, another repository's `targetRevision`, Helm parameters or values in the
Application change what is deployed without touching a file the app's path holds. The walk follows the
declaration file (through renames) down the first-parent chain and, at each commit that touched it, finds
the app by kind and name on both sides (its line moves) and compares what ArgoCD renders from: the
sources' chart, repoURL, targetRevision and path (not for sources in the audited repository, which render
at the run's commit), and their `helm` and `kustomize` blocks. A Flux HelmRelease's file is followed
the same way, by kind HelmRelease and name: its chart, `spec.chart.spec.version` and values.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import git

from driftcheck.fetch.gitobjects import LogCommit, ObjectReader, first_parent_log, shallow_boundary
from driftcheck.history.changes import SourceChange, declaration_changes, deployed
from driftcheck.history.events import mark_restores, revert_of
from driftcheck.history.state import Snapshot
from driftcheck.model import App, DeployEvent, GitSource, utf8_text
from driftcheck.render.yaml import load_manifests


@dataclass
class DeclarationHistory:
    """The declaration's deploys, newest first, and the declaration after each (then before the oldest)."""

    events: list[DeployEvent] = field(default_factory=list)
    timeline: list[Snapshot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def declaration_history(repo: git.Repo, app: App, revision: str,
                        since: datetime | None = None) -> DeclarationHistory:
    """Every first-parent commit of `revision` that changed what the app's declaration deploys."""
    result = DeclarationHistory()
    declared = app.defined_by
    if declared.kind == "cli" or not declared.file:
        return result
    if declared.generator:
        if app.local_source is None:
            result.notes.append(f"declared by an ApplicationSet in {declared.file}: changes to its template "
                                "are not followed")
        return result
    local = {i for i, s in enumerate(app.sources) if isinstance(s.source, GitSource) and not s.source.url}
    git_dir = str(repo.git_dir)
    tip = repo.commit(revision).hexsha
    path = posixpath.normpath(declared.file.strip("/"))
    shallow = shallow_boundary(git_dir)
    before: tuple[str, str, Any] | None = None
    with ObjectReader(git_dir) as blobs:
        for commit in first_parent_log(git_dir, tip, frozenset(shallow)):
            if commit.sha in shallow or (since is not None and datetime.fromisoformat(commit.date) < since):
                break
            change = next((c for c in commit.changes if c.new == path), None)
            if change is None:
                continue
            new = _declaration(blobs, change.new_blob, path, app)
            old_path = change.old if change.status == "R" and change.old else path
            old = _declaration(blobs, change.old_blob, old_path, app) if change.old else None
            changes = declaration_changes(old, new, local, path)
            if changes:
                result.events.append(_event(repo, app.name, commit, path, changes))
                result.timeline.append(_snapshot(commit.sha, commit.date, deployed(new, local)))
                before = (commit.sha, commit.date, deployed(old, local))
            path = old_path
            if old is None:
                break  # the app was declared here
    if before is not None:
        result.timeline.append(_snapshot(*before))  # the declaration before the oldest deploy
    mark_restores(result.events, result.timeline)
    return result


def _declaration(blobs: ObjectReader, blob: str, path: str, app: App) -> dict[str, Any] | None:
    """The app's declaration in one version of the file: the Application's spec, or the config entry."""
    docs, _ = load_manifests(blobs.read(blob), path, duplicate_keys="last")
    if app.defined_by.kind == "flux-helmrelease":  # app helmrelease/NS/NAME: the namespace may be set later
        _, namespace, name = app.name.split("/", 2)
        for body, _ in docs:
            meta = body.get("metadata")
            if (body.get("kind") == "HelmRelease" and isinstance(meta, dict) and meta.get("name") == name
                    and meta.get("namespace") in (None, namespace) and isinstance(body.get("spec"), dict)):
                return {"helmrelease": body["spec"]}
        return None
    if app.defined_by.kind == "config":
        entries = docs[0][0].get("apps") if docs else None
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and str(entry.get("name") or "").strip() == app.name:
                return {"config": entry}
        return None
    for body, _ in docs:
        meta = body.get("metadata")
        if (body.get("kind") == "Application" and isinstance(meta, dict) and meta.get("name") == app.name
                and isinstance(body.get("spec"), dict)):
            return {"spec": body["spec"]}
    return None


def _event(repo: git.Repo, app_name: str, commit: LogCommit, path: str,
           changes: list[SourceChange]) -> DeployEvent:
    event = DeployEvent(commit=commit.sha, date=commit.date, author=commit.author,
                        message=commit.message.split("\n", 1)[0], committer=commit.committer, app=app_name)
    event.files = [utf8_text(path)]
    event.sources = [c.entry() for c in changes]
    event.revert_of = revert_of(repo, commit.message)
    return event


def _snapshot(commit: str, date: str, declared: Any) -> Snapshot:
    text = json.dumps(declared, sort_keys=True, default=str)
    return Snapshot(commit, date, {}, hashlib.sha256(text.encode()).hexdigest())
