"""An app's deploy history wherever its files are: this repository, another Git repository, a chart.

An app of this repository is the walk of its files here. An app of another repository is the same walk
over that repository's first-parent chain at the revision its source resolves to (the run's
`SourceTrees` has cloned it). An app of a chart repository has no files to walk. To each, the commits
of its declaration add what changed the deploy there: a chart or revision bump, Helm parameters, values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import git

from driftcheck.fetch.gitobjects import first_parent_log, shallow_boundary
from driftcheck.fetch.tree import CommitTree
from driftcheck.history.declarations import declaration_history
from driftcheck.history.walk import HistoryResult, app_history, chosen
from driftcheck.model import App, DeployEvent, DriftcheckError, GitSource, ResourceKey, RunError
from driftcheck.scrub import mask_url

if TYPE_CHECKING:
    from driftcheck.fetch.sources import SourceTrees


@dataclass(frozen=True)
class _SourceApp:
    """The fields the walk reads (HistoryApp), for one source of an app."""

    name: str
    path: str
    namespace: str
    recurse: bool
    values_files: list[str]


def source_history(repo: git.Repo, app: App, trees: SourceTrees | None, revision: str,
                   since: datetime | None = None, until: datetime | None = None, author: str | None = None,
                   keep: set[ResourceKey] | None = None) -> HistoryResult:
    """Every deploy of app, newest first, filtered as app_history filters (see there for keep)."""
    declared = declaration_history(repo, app, revision, since)
    declared.events = chosen(declared.events, since, until, author)
    if app.local_source is not None:
        result = app_history(repo, app, revision, since, until, author, keep)
        _merge_same_repo(repo, revision, result, declared.events)
        return result
    remote = next((s for s in app.sources if s.renders and isinstance(s.source, GitSource)), None)
    if remote is None or trees is None:  # a chart from a chart repository: its declaration is its history
        result = HistoryResult(events=declared.events, notes=declared.notes, timeline=declared.timeline,
                               source=app.shown_source)
        return result
    source = remote.source
    assert isinstance(source, GitSource)
    helm = remote.render.helm
    view = _SourceApp(app.name, source.path, app.namespace, remote.render.directory.recurse,
                      [v.path for v in helm.values_files] if helm else [])
    try:
        located = trees.locate(source)
    except DriftcheckError as e:
        return HistoryResult(events=declared.events, notes=declared.notes, timeline=declared.timeline,
                             errors=[RunError(str(e), app=app.name, stage="history")],
                             source=mask_url(source.url))
    tree = located.tree
    assert isinstance(tree, CommitTree)  # a Git source's tree
    result = app_history(tree.repo, view, tree.sha, since, until, author, keep)
    result.source = located.shown
    result.repos = {e.commit: str(tree.repo.git_dir) for e in result.events}
    if not result.found:  # another repository's path: this app's error, not the end of the command
        result.found = True
        result.errors = [RunError(f"{mask_url(source.url)}: {e.message}", app=e.app, stage=e.stage)
                         for e in result.errors]
    result.events = sorted(result.events + declared.events, key=lambda e: datetime.fromisoformat(e.date),
                           reverse=True)
    result.notes += declared.notes
    return result


def _merge_same_repo(repo: git.Repo, revision: str, result: HistoryResult,
                     declared: list[DeployEvent]) -> None:
    """The declaration's events among the walk's, in first-parent order; one commit stays one event."""
    if not declared:
        return
    git_dir = str(repo.git_dir)
    order = {c.sha: i for i, c in enumerate(first_parent_log(git_dir, repo.commit(revision).hexsha,
                                                             frozenset(shallow_boundary(git_dir))))}
    by_commit = {e.commit: e for e in result.events}
    for event in declared:
        same = by_commit.get(event.commit)
        if same is None:
            result.events.append(event)
            continue
        same.sources += event.sources
        same.files = sorted(set(same.files) | set(event.files))
        same.revert_of = same.revert_of or event.revert_of
        same.restores = same.restores or event.restores
    result.events.sort(key=lambda e: order.get(e.commit, len(order)))
