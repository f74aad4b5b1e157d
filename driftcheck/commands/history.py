"""`driftcheck history`: each chosen app's dated deploys on the first-parent chain of --revision/--at
(for an app of another repository, that repository's chain at its source's revision; see history.sources)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from driftcheck.audit import desired_apps
from driftcheck.commands.options import SourceOptions
from driftcheck.evidence import provenance
from driftcheck.fetch.moments import flag_moment, parse_moment, parse_since
from driftcheck.fetch.sources import SourceTrees
from driftcheck.history import HistoryApp, HistoryResult, source_history
from driftcheck.model import DriftcheckError


def histories(source: SourceOptions, since: str | None = None, until: str | None = None,
              author: str | None = None,
              trusted_signers: Path | None = None) -> list[tuple[HistoryApp, HistoryResult]]:
    """The history of every app the source flags choose, filtered by --since/--until/--author, each
    event with its commit's provenance (signatures checked only against --trusted-signers).

    --since takes an age (90d, before now), a date (from its start) or a moment; --until a date
    (to its end) or a moment. An app whose path never held anything it reads ends the command.
    """
    start = parse_since(since, datetime.now(UTC), "--since") if since else None
    end = flag_moment(until, "--until") if until else None
    if start and end and start > end:
        raise DriftcheckError(f"--since {since} is after --until {until}")
    repo, tree, discovered = desired_apps(source)
    trust = provenance.trust_for(trusted_signers, repo)  # refused before any walk when inside the repo
    trees = SourceTrees(tree, fetch=source.fetch, at=parse_moment(source.at) if source.at else None)
    # the text forms show events only: the timeline keeps no bodies
    found: list[tuple[HistoryApp, HistoryResult]] = [
        (app, source_history(repo, app, trees, tree.sha, start, end, author, keep=set()))
        for app in discovered.apps]
    missing = [str(error) for _, result in found if not result.found for error in result.errors]
    if missing:
        raise DriftcheckError("; ".join(missing))
    provenance.annotate(str(repo.git_dir), [e for _, result in found for e in result.events], trust,
                        {sha: d for _, result in found for sha, d in result.repos.items()})
    return found
