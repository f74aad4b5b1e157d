"""What each source of a rendered app resolved to (revision, commit, chart version), what the render
resolved beyond them, and the hooks it listed: the report's `apps[].sources/resolved/hooks`."""

from __future__ import annotations

from typing import Any

from driftcheck.model import AppResolution


def app_resolution(trees: Any, rendered: Any) -> AppResolution:
    """What each source of the rendered app resolved to (SourceTrees located each once this run, so
    asking again fetches nothing), what the render resolved beyond them, and the hooks it listed."""
    from driftcheck.fetch.sources import SourceError
    from driftcheck.model import ChartSource, GitSource, ListedHook, ResolvedSource
    from driftcheck.scrub import mask_url

    sources: list[ResolvedSource] = []
    for app_source in rendered.app.sources:
        source = app_source.source
        try:
            located = trees.locate(source)
        except SourceError:
            located = None  # the render's error says why
        resolved = located.revision if located else ""
        if isinstance(source, ChartSource):
            sources.append(ResolvedSource("oci" if source.repository.startswith("oci://") else "chart",
                                          mask_url(source.repository), source.chart, source.version,
                                          resolved, located.tree.sha if located else ""))
        elif isinstance(source, GitSource):
            sources.append(ResolvedSource("git", mask_url(source.url), source.path,
                                          source.revision or "HEAD", resolved))
        else:
            sources.append(ResolvedSource("oci", mask_url(source.url), source.path, source.reference,
                                          resolved))
    hooks = [ListedHook(h.resource, h.types, h.origin.file, h.origin.line) for h in rendered.hooks]
    return AppResolution(sources, list(rendered.notes), hooks)
