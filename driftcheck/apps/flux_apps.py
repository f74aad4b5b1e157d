"""`--flux PATH`: the Kustomizations of a Flux cluster directory as apps (`flux.graph` builds them), and
the HelmReleases they render (`flux.helm_apps`; rendered later, like chart apps).

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
from driftcheck.flux.variables import ClusterVariables
from driftcheck.model import App, RunError, SkippedApp


class FluxOptions(Protocol):
    flux: str | None
    flux_strict_substitution: bool
    render_timeout: float  # each Kustomization's build
    fetch: FetchOptions


class Found(Protocol):
    apps: list[App]
    skipped: list[SkippedApp]
    errors: list[RunError]
    notes: list[str]
    repo_urls: set[str]
    rendered: dict[str, object]
    gitops_managers: list[str]


def add_flux_apps(found: Found, tree: Tree, options: FluxOptions, at: datetime | None,
                  variables: ClusterVariables | None = None) -> None:
    """The Flux root's Kustomizations and HelmReleases appended to found (an app name already taken is
    skipped); variables: the run's cluster, where postBuild.substituteFrom and the valuesFrom objects Git
    does not hold are read (None: not read)."""
    from driftcheck.flux.graph import build_graph
    from driftcheck.flux.helm_apps import cluster_lookup, helm_release_apps
    from driftcheck.flux.managers import FLUX_MANAGERS

    if not options.flux:
        return
    try:
        graph = build_graph(SourceTrees(tree, fetch=options.fetch, at=at), options.flux, found.repo_urls,
                            strict=options.flux_strict_substitution, timeout=options.render_timeout,
                            variables=variables)
        releases, failed = helm_release_apps(
            graph.rendered, graph.apps, graph.this_repo,
            cluster_lookup(variables) if variables is not None else None,
            variables.where if variables is not None else "")
    finally:
        if variables is not None:
            variables.close()
    if found.gitops_managers:  # configured ones replace the defaults: Flux's controllers stay GitOps
        found.gitops_managers += [m for m in FLUX_MANAGERS if m not in found.gitops_managers]
    found.errors += graph.errors
    found.skipped += graph.skipped
    found.notes += graph.notes
    taken = {a.name for a in found.apps}
    for app in [*graph.apps, *releases]:
        if app.name in taken:
            found.skipped.append(SkippedApp(app.name, "an app of that name is already configured",
                                            str(app.defined_by)))
            continue
        found.apps.append(app)
        if app.name in graph.rendered or app.name in failed:
            found.rendered[app.name] = graph.rendered.get(app.name) or failed[app.name]
