"""Deploy history of an app from Git: one walk down the first-parent chain, newest to oldest.

How it stays fast. One `git log --raw -M` over the first-parent chain gives every commit's changed
blobs; the tree is kept in memory and rewound commit by commit; only commits touching the app's
files are looked at, only their changed blobs are parsed (once per blob id), and the read set is
recomputed only when a commit adds, deletes or renames files near the app or edits a kustomization.
Kustomize is never run (see state.py).

Walking back, a file the app reads at a newer commit stays one of its files at older commits, followed
through renames as `git log --follow` does, even where that older layout did not read it; and when
the app's path itself does not exist in the parent commit, the rename that created it gives the old
path. So a workload keeps its history through moves such as `blog-system/web-deployment.yaml` →
`services/blog-system/web/web-rollout.yaml`, even at commits where the layout was half-migrated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import git

from driftcheck.fetch.gitobjects import LogCommit, ObjectReader, first_parent_log, ls_tree, shallow_boundary
from driftcheck.history.events import deploy_event, mark_restores
from driftcheck.history.readset import FileRole, HistoryApp, norm, parent_root, read_set, structural
from driftcheck.history.state import AppState, Snapshot, StateReader
from driftcheck.model import DeployEvent, DriftcheckError, ResourceKey, RunError


@dataclass
class HistoryResult:
    """An app's deploys, and the states they left, for the report and for matching live state."""

    events: list[DeployEvent] = field(default_factory=list)  # newest first, after --since/--until/--author
    errors: list[RunError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Unfiltered: the state after each deploy, newest first (the first is the state at the revision).
    timeline: list[Snapshot] = field(default_factory=list)
    found: bool = True  # False when the app's path never held anything the app reads
    source: str = ""  # where the walk read: "" = the audited repository, else the other repository or chart
    # commit -> the clone (git dir) it is in, for the events of another repository (provenance reads them)
    repos: dict[str, str] = field(default_factory=dict)


def app_history(repo: git.Repo, app: HistoryApp, revision: str = "HEAD", since: datetime | None = None,
                until: datetime | None = None, author: str | None = None,
                keep: set[ResourceKey] | None = None) -> HistoryResult:
    """Every deploy of `app` on the first-parent chain of `revision`, newest first.

    since/until (aware datetimes, on the committer date) and author (a case-insensitive substring of
    "name <email>") filter the events. The walk stops at the first commit older than `since`, as
    `git log --since` does, so its time is that of the window, not of the whole history: the timeline
    for matching live state then ends with the state in effect at the window's start (at that commit),
    and a live state older than that matches nothing. The timeline keeps the bodies of the objects in
    `keep` only (all when None; `match_live_commit` needs those it is asked about), so its memory does
    not grow with every version of every object.
    """
    if since and until and since > until:
        raise DriftcheckError(f"--since {since.isoformat()} is after --until {until.isoformat()}")
    with ObjectReader(repo.git_dir) as blobs:
        result = _Walker(repo, app, blobs, keep).run(revision, since)
    result.events = chosen(result.events, since, until, author)
    return result


def chosen(events: list[DeployEvent], since: datetime | None, until: datetime | None,
           author: str | None) -> list[DeployEvent]:
    """The events --since/--until (committer date) and --author (substring, any case) keep."""
    wanted = author.lower() if author else None
    return [e for e in events
            if (since is None or datetime.fromisoformat(e.date) >= since)
            and (until is None or datetime.fromisoformat(e.date) <= until)
            and (wanted is None or wanted in e.author.lower())]


class _Walker:
    """One pass over the first-parent chain, newest to oldest, keeping the tree and the app's files."""

    def __init__(self, repo: git.Repo, app: HistoryApp, blobs: ObjectReader,
                 keep: set[ResourceKey] | None = None) -> None:
        self.repo = repo
        self.app = app
        self.blobs = blobs
        self.tree: dict[str, str] = {}  # path -> blob id, rewound to each parent in turn
        self.states = StateReader(self.tree, blobs, app.namespace, keep)

    def run(self, revision: str, since: datetime | None = None) -> HistoryResult:
        result = HistoryResult()
        try:
            tip_commit = self.repo.commit(revision)
        except (git.BadName, git.BadObject, ValueError):
            raise DriftcheckError(f"--revision {revision}: no such branch, tag or commit") from None
        tip = tip_commit.hexsha
        git_dir = str(self.repo.git_dir)
        self.tree.update(ls_tree(git_dir, tip))
        root = norm(self.app.path)
        files, watched = self._read_set(root)
        watched |= set(files)
        state = revision_state = self.states.state(files)
        shallow = shallow_boundary(git_dir)
        boundary: LogCommit | None = None
        window: LogCommit | None = None
        for commit in first_parent_log(git_dir, tip, frozenset(shallow)):
            if commit.sha in shallow:
                boundary = commit
                break
            if since is not None and datetime.fromisoformat(commit.date) < since:
                window = commit
                break
            self._rewind(commit)
            if structural(commit, files, watched):
                root = parent_root(self.tree, root, commit)
                parent_files, watched = self._read_set(root)
                self._keep_followed(commit, files, parent_files)
                watched |= set(parent_files)
            else:
                parent_files = files
            relevant = [c for c in commit.changes if c.new in files or c.old in parent_files]
            if relevant:
                parent_state = self.states.state(parent_files)
                layout = any(c.status not in ("M", "T") for c in relevant)
                if layout or parent_state.digest != state.digest:
                    roles = {**parent_files, **files}
                    result.events.append(deploy_event(self.repo, self.app.name, commit, relevant,
                                                      parent_state, state, roles, self.states))
                    result.timeline.append(self._snapshot(commit, state))
                state = parent_state
                self.states.forget(parent_files)
            files = parent_files
        if boundary is not None:
            result.notes.append(f"shallow clone: history stops at the shallow boundary, commit "
                                f"{boundary.sha[:12]} ({boundary.date}); earlier deploys are not in it")
            result.timeline.append(self._snapshot(boundary, state))
        elif window is not None:
            result.timeline.append(self._snapshot(window, state))  # the state the window starts with
        if not result.timeline:
            result.timeline.append(self.states.snapshot(tip, tip_commit.committed_datetime.isoformat(),
                                                        revision_state))
        if not revision_state.files and not result.events:
            result.found = False
            result.errors.append(RunError(f"path {self.app.path!r} has no manifests at {tip[:12]} nor "
                                          "anywhere in its history", app=self.app.name, stage="history"))
        mark_restores(result.events, result.timeline)
        return result

    def _read_set(self, root: str) -> tuple[dict[str, FileRole], set[str]]:
        return read_set(self.tree, self.blobs, self.app, root, self.states.kustomization)

    def _rewind(self, commit: LogCommit) -> None:
        """The tree as the commit's first parent had it."""
        for change in commit.changes:
            if change.new:
                self.tree.pop(change.new, None)
        for change in commit.changes:
            if change.old:
                self.tree[change.old] = change.old_blob

    @staticmethod
    def _keep_followed(commit: LogCommit, files: dict[str, FileRole],
                       parent_files: dict[str, FileRole]) -> None:
        """A file the app reads after the commit stays one of its files before it, under its old name."""
        by_new = {c.new: c for c in commit.changes if c.new}
        for path, role in files.items():
            change = by_new.get(path)
            if change is None or change.status in ("M", "T"):
                parent_files.setdefault(path, role)
            elif change.status == "R" and change.old:
                parent_files.setdefault(change.old, role)

    def _snapshot(self, commit: LogCommit, state: AppState) -> Snapshot:
        return self.states.snapshot(commit.sha, commit.date, state)
