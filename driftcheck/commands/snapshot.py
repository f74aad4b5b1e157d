"""`driftcheck snapshot`: capture live objects to a file, scoped as `check` with the same flags reads them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from driftcheck.commands.options import ClusterOptions, SourceOptions, with_config_defaults
from driftcheck.model import DriftcheckError

Progress = Callable[[str], None]


@dataclass
class SnapshotOptions:
    """Where to write, which cluster, and what to capture: named kinds and namespaces, the apps'
    (source flags), or common kinds and every CRD's."""

    out: Path
    cluster: ClusterOptions = field(default_factory=ClusterOptions)
    source: SourceOptions = field(default_factory=SourceOptions)  # namespace comes from namespaces
    namespaces: list[str] = field(default_factory=list)
    kinds: str | None = None  # comma-separated, as kubectl names them
    include_secret_values: bool = False


def run(options: SnapshotOptions, progress: Progress) -> int:
    """Read the chosen objects and write the snapshot; warn about what could not be captured."""
    from driftcheck.live.capabilities import read_capabilities
    from driftcheck.live.cluster import ClusterReader
    from driftcheck.live.discovery import gitops_kinds, kinds_named
    from driftcheck.live.snapshot import write_snapshot

    cluster = options.cluster
    namespaces = set(options.namespaces)
    reader = ClusterReader(str(cluster.kubeconfig) if cluster.kubeconfig else None, cluster.context)
    progress(f"live state: {reader.info['server']} (context {reader.info['context']})")
    served = reader.served_types()
    capabilities = read_capabilities(reader)  # Helm's .Capabilities for this run's charts and later checks
    named = [k.strip() for k in (options.kinds or "").split(",") if k.strip()]
    kinds = kinds_named(served, named) if named else set()
    if options.source.chooses_apps():
        git_kinds, git_namespaces = git_scope(options, progress, lambda: capabilities)
        kinds |= git_kinds
        namespaces |= git_namespaces or set()
    elif not kinds:
        kinds = gitops_kinds(served)
    state = reader.read(kinds, None if cluster.all_namespaces or not namespaces else namespaces,
                        cluster.selector)
    state.info["served"] = {t.group_kind for t in served}  # offline, tells "never captured" from "not served"
    state.info["api_versions"] = capabilities.api_versions if capabilities else ()
    write_snapshot(state, options.out, options.include_secret_values)
    for reason in sorted(state.unreadable.values()):
        progress(f"warning: not captured: {reason}")
    for group, kind in sorted(state.not_served):
        progress(f"warning: not served by the cluster: {kind}{'.' + group if group else ''}")
    scope = state.info["scope"]["namespaces"]
    where = "all namespaces" if scope is None else f"{len(scope)} namespace(s)"
    click.echo(f"wrote {options.out}: {len(state.resources)} objects of {len(kinds)} kinds in {where}, "
               f"{state.requests} API requests")
    return 0


def git_scope(options: SnapshotOptions, progress: Progress, capabilities: Callable[[], Any] | None = None,
              ) -> tuple[set[tuple[str, str]], set[str] | None]:
    """What `check` with these flags would read live: the kinds its apps render (with the cluster's
    capabilities, as check renders them), in their namespaces."""
    from driftcheck.audit import desired_state, live_scope

    if options.source.paths and len(options.namespaces) > 1:
        raise DriftcheckError("with --path, give one -n: the apps' destination namespace")
    source = replace(options.source, namespace=next(iter(options.namespaces), ""))
    source, _ = with_config_defaults(source)
    git_side = desired_state(source, selector=options.cluster.selector, progress=progress,
                             capabilities=capabilities)
    return live_scope(git_side.discovered.apps, git_side.desired_by_app, options.cluster.all_namespaces)
