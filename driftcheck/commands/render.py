"""`driftcheck render`: the desired state at --revision/--at, written as files for an auditor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from driftcheck.commands import EXIT_ERROR, EXIT_IN_SYNC
from driftcheck.commands.options import SourceOptions, with_config_defaults
from driftcheck.model import utf8_text


@dataclass
class RenderOptions:
    """The source flags plus where to write, how long a render may take and which objects (-l)."""

    out: Path
    source: SourceOptions = field(default_factory=SourceOptions)
    include_secret_values: bool = False
    render_timeout: float = 120.0
    selector: str | None = None


def run(options: RenderOptions, progress: Callable[[str], None]) -> int:
    """Render every app as `check` does (same timeout and -l narrowing) and write the directory.

    Exit 0 when every app rendered, 2 when some could not (the rest is still written).
    """
    from driftcheck.audit import desired_state
    from driftcheck.fetch.moments import parse_moment
    from driftcheck.report.desired_dir import write_desired
    from driftcheck.scrub import mask_url

    source, _ = with_config_defaults(options.source)
    state = desired_state(source, options.render_timeout, options.selector, progress, show_renderer=True)
    at = {"requested": source.at, "moment": parse_moment(source.at).isoformat()} if source.at else None
    manifest_source = {
        "repo": mask_url(source.repo),
        "revision": source.revision or "HEAD",
        "commit": state.tree.sha,
        "commit_date": state.tree.date,
        "at": at,
        "skipped_apps": [{"name": s.name, "reason": utf8_text(s.reason), "origin": utf8_text(s.origin)}
                         for s in state.discovered.skipped],
    }
    written = write_desired(options.out, state.rendered, manifest_source, options.include_secret_values,
                            state.discovered.errors, state.resolutions)
    for error in written.errors:
        progress(f"{error.severity}: {error}")
    click.echo(f"wrote {written.objects} objects and MANIFEST.json to {options.out}")
    return EXIT_ERROR if any(e.severity == "error" for e in written.errors) else EXIT_IN_SYNC
