"""A deploy event: what a commit changed in the app (objects, images, replicas, files), reverts, restores.

A commit is an event when the app's objects or kustomizations changed, or files it reads were added,
removed or renamed; edits that change only comments or formatting are not deploys. For a Helm chart
the files are the chart directory and its values files; its events list files, not objects.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from typing import Any

import git

from driftcheck.fetch.gitobjects import Change, LogCommit
from driftcheck.history.changes import changed_pointers, chart_changes
from driftcheck.history.readset import FileRole
from driftcheck.history.state import AppState, Snapshot, StateReader, container_images, replica_count
from driftcheck.model import DeployEvent, ResourceKey, utf8_text

# Kustomization fields whose effect history computes; a change to any other one is render-only.
APPLIED_KUSTOMIZE_FIELDS = frozenset({"apiVersion", "kind", "metadata", "resources", "bases", "components",
                                      "namespace", "images", "replicas"})
REVERT_RE = re.compile(r"This reverts commit ([0-9a-fA-F]{7,40})")


def deploy_event(repo: git.Repo, app_name: str, commit: LogCommit, relevant: list[Change], before: AppState,
                 after: AppState, roles: dict[str, FileRole], states: StateReader) -> DeployEvent:
    """The event of `commit`, whose `relevant` changes took the app from `before` to `after`."""
    event = DeployEvent(commit=commit.sha, date=commit.date, author=commit.author,
                        message=commit.message.split("\n", 1)[0], committer=commit.committer, app=app_name)
    event.files = sorted(utf8_text(f"{c.old} → {c.new}" if c.status == "R" else str(c.new or c.old))
                         for c in relevant)
    renamed = {c.new: c.old for c in relevant if c.status == "R" and c.new}
    describe_changes(event, before, after, renamed)
    for change in relevant:  # a wrapper chart's dependency bump: "dependency x 64.0.0 → 65.0.0"
        if change.new and change.old and posixpath.basename(change.new) == "Chart.yaml":
            old, new = states.blobs.read(change.old_blob), states.blobs.read(change.new_blob)
            event.sources += [c.entry() for c in chart_changes(old, new, change.new)]
    broken = []
    for change in relevant:
        err = after.broken.get(change.new or "")
        if err is not None and change.new_blob == after.files.get(change.new or ""):
            broken.append(f"{change.new}:{err.line}")
    notes = [f"unparseable at this commit: {', '.join(broken)}"] if broken else []
    unseen = sorted({path for c in relevant for path in (c.old, c.new)
                     if path and _render_only(states, path, roles.get(path), before, after)})
    if unseen:
        notes.append(f"changes only a render shows (patches, generators, charts; objects not compared): "
                     f"{', '.join(unseen)}")
    event.note = utf8_text("; ".join(notes))  # file names a report writes as UTF-8
    event.revert_of = revert_of(repo, commit.message)
    if len(commit.parents) > 1:
        event.merged = _merged(repo, commit, relevant)
    return event


def _render_only(states: StateReader, path: str, role: FileRole | None, before: AppState,
                 after: AppState) -> bool:
    """A changed input whose effect on objects history does not compute (it applies no patches)."""
    if role is None or role.kind == "resource":
        return False
    if role.kind == "aux":
        return True
    return _unapplied(states, before, path) != _unapplied(states, after, path)


def _unapplied(states: StateReader, state: AppState, path: str) -> dict[str, Any]:
    """The fields of a kustomization whose effect history does not compute."""
    docs = states.parse(state.files[path], path)[0] if path in state.files else []
    return {k: v for k, v in docs[0][0].items() if k not in APPLIED_KUSTOMIZE_FIELDS} if docs else {}


def revert_of(repo: git.Repo, message: str) -> str | None:
    """The commit a `git revert` message names, as a full SHA when the repository has it."""
    match = REVERT_RE.search(message)
    return _full_sha(repo, match.group(1)) if match else None


def _full_sha(repo: git.Repo, short: str) -> str:
    try:
        return str(repo.commit(short).hexsha)
    except (git.BadName, git.BadObject, ValueError):
        return short


def _merged(repo: git.Repo, commit: LogCommit, relevant: list[Change]) -> list[str]:
    """Commits the merge brought in that touched the app's files."""
    paths = sorted({p for c in relevant for p in (c.old, c.new) if p})
    out = str(repo.git.rev_list(f"{commit.parents[0]}..{commit.sha}", "--", *paths))
    return [sha for sha in out.split() if sha != commit.sha]


def describe_changes(event: DeployEvent, before: AppState, after: AppState,
                     renamed: dict[str, str | None]) -> None:
    """Resources, images and replicas that differ between the two states.

    An object removed and one added with the same namespace/name in the same (or a renamed) file is
    one object whose kind changed, e.g. a Deployment migrated to an Argo Rollout.
    """
    broken = set(before.broken) | set(after.broken)
    removed = {k: v for k, v in before.objects.items() if k not in after.objects}
    added = {k: v for k, v in after.objects.items() if k not in before.objects}
    pairs: list[tuple[ResourceKey | None, ResourceKey | None]] = [
        (k, k) for k, (body, _) in after.objects.items()
        if k in before.objects and before.objects[k][0] is not body]
    for added_key in sorted(added):
        new_file = added[added_key][1]
        same_name = next((k for k in sorted(removed)
                          if (k.namespace, k.name) == (added_key.namespace, added_key.name)
                          and removed[k][1] in (new_file, renamed.get(new_file))), None)
        if same_name is not None:
            del removed[same_name]
        pairs.append((same_name, added_key))
    pairs += [(k, None) for k in sorted(removed)]
    for old_key, new_key in sorted(pairs, key=lambda p: str(p[1] or p[0])):
        old = before.objects.get(old_key) if old_key else None
        new = after.objects.get(new_key) if new_key else None
        if (old and old[1] in broken) or (new and new[1] in broken):
            continue  # a file that does not parse on one side says nothing about its objects
        old_body, new_body = (old[0] if old else None), (new[0] if new else None)
        key = new_key or old_key
        assert key is not None
        fields = changed_pointers(old_body, new_body)
        if not fields and old_key == new_key:
            continue
        entry: dict[str, Any] = {"group": key.group, "kind": key.kind, "namespace": key.namespace,
                                 "name": key.name, "change": "modified", "fields": fields}
        if old_key is None:
            entry.update(change="added", fields=[])
        elif new_key is None:
            entry.update(change="removed", fields=[])
        elif old_key.kind != new_key.kind or old_key.group != new_key.group:
            entry.update(change="kind-changed", from_kind=old_key.kind, from_group=old_key.group)
        event.resources.append(entry)
        old_images = container_images(old_body) if old_body else {}
        new_images = container_images(new_body) if new_body else {}
        for container in sorted(set(old_images) | set(new_images)):
            if old_images.get(container) != new_images.get(container):
                event.images.append({"resource": str(key), "container": container,
                                     "from": old_images.get(container, ""),
                                     "to": new_images.get(container, "")})
        old_replicas = replica_count(old_body) if old_body else None
        new_replicas = replica_count(new_body) if new_body else None
        if old_replicas != new_replicas:
            event.replicas.append({"resource": str(key), "from": old_replicas, "to": new_replicas})


def mark_restores(events: list[DeployEvent], timeline: list[Snapshot]) -> None:
    """A deploy whose result equals the state after an older deploy (not its own parent) restores it."""
    positions: dict[str, list[int]] = {}
    for i, snapshot in enumerate(timeline):
        positions.setdefault(snapshot.digest, []).append(i)
    for i, event in enumerate(events):
        if i + 1 >= len(timeline) or timeline[i].digest == timeline[i + 1].digest:
            continue
        same = positions[timeline[i].digest]
        at = bisect.bisect_left(same, i + 2)
        if at < len(same):
            event.restores = timeline[same[at]].commit
