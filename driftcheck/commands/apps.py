"""`driftcheck apps`: every app a run would check, where it was declared, its sources and destination
(the offline `argocd appset generate`), as a table, JSON or YAML; nothing is rendered."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from driftcheck.commands import EXIT_ERROR, EXIT_IN_SYNC
from driftcheck.commands.options import SourceOptions, with_config_defaults
from driftcheck.model import App, ChartSource, GitSource


def app_record(app: App) -> dict[str, Any]:
    """One app as `apps` prints it."""
    sources = []
    for s in app.sources:
        src = s.source
        if isinstance(src, ChartSource):
            sources.append({"repo": src.repository, "chart": src.chart, "version": src.version})
        elif isinstance(src, GitSource):
            sources.append({"repo": src.url or "(this repository)", "path": src.path,
                            "revision": src.revision or "(the run's commit)"})
        else:
            sources.append({"repo": src.url, "path": src.path, "revision": src.reference})
    d = app.defined_by
    cluster = app.destination.cluster
    return {"name": app.name, "declared": str(d), "generator": d.generator, "parent": d.parent,
            "sources": sources,
            "destination": {"name": cluster.name, "server": cluster.server, "namespace": app.namespace}}


def run(source: SourceOptions, output: str, progress: Callable[[str], None]) -> int:
    """Print the apps; exit 2 when something could not be read (the rest is still printed)."""
    from driftcheck.audit import desired_apps
    from driftcheck.render.yaml.dump import dump_yaml

    source, _ = with_config_defaults(source)
    _, _, found = desired_apps(source, progress)
    records = [app_record(a) for a in found.apps]
    skipped = [{"name": s.name, "reason": s.reason, "origin": s.origin} for s in found.skipped]
    for error in found.errors:
        progress(f"{error.severity}: {error}")
    if output == "json":
        click.echo(json.dumps({"apps": records, "skipped": skipped}, indent=2))
    elif output == "yaml":
        click.echo(dump_yaml({"apps": records, "skipped": skipped}), nl=False)
    else:
        rows = [("NAME", "DECLARED", "SOURCES", "DESTINATION")]
        for r in records:
            where = r["declared"] + (f" ({r['generator']})" if r["generator"] else "")
            shown = "; ".join(" ".join(str(v) for v in s.values() if v) for s in r["sources"])
            dest = r["destination"]
            cluster = dest["name"] or dest["server"] or "(the run's cluster)"
            rows.append((r["name"], where, shown, f"{cluster}/{dest['namespace']}"))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            click.echo("  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
        for s in skipped:
            click.echo(f"skipped {s['name']} ({s['origin']}): {s['reason']}")
    return EXIT_ERROR if any(e.severity == "error" for e in found.errors) else EXIT_IN_SYNC
