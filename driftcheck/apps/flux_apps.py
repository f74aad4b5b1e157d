"""`--flux PATH`: the Kustomizations of a Flux cluster directory as apps (`flux.graph` builds them).

Unlike the other providers this one renders: a child Kustomization exists only in its parent's rendered
output, so finding the apps is building them. Each build is kept (`FoundApps.rendered`) and the run's
render stage uses it instead of building again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from driftcheck.commands.options import FetchOptions
from driftcheck.fetch.sources import SourceTrees
from driftcheck.fetch.tree import Tree
from driftcheck.model import App, RunError, SkippedApp


class FluxOptions(Protocol):
    flux: str | None
    flux_strict_substitution: bool
    fetch: FetchOptions


class Found(Protocol):
    apps: list[App]
    skipped: list[SkippedApp]
    errors: list[RunError]
    notes: list[str]
    repo_urls: set[str]
    rendered: dict[str, object]


def add_flux_apps(found: Found, tree: Tree, options: FluxOptions, at: datetime | None) -> None:
    """The Flux root's Kustomizations appended to found (an app name already taken is skipped)."""
    from driftcheck.flux.graph import build_graph

    if not options.flux:
        return
    graph = build_graph(SourceTrees(tree, fetch=options.fetch, at=at), options.flux, found.repo_urls,
                        strict=options.flux_strict_substitution)
    found.errors += graph.errors
    found.skipped += graph.skipped
    found.notes += graph.notes
    taken = {a.name for a in found.apps}
    for app in graph.apps:
        if app.name in taken:
            found.skipped.append(SkippedApp(app.name, "an app of that name is already configured",
                                            str(app.defined_by)))
            continue
        found.apps.append(app)
        found.rendered[app.name] = graph.rendered[app.name]
