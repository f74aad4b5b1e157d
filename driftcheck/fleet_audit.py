"""One check over every destination cluster: the Git side once, then each cluster read, compared and
reported (over --workers forked processes when there are several; see driftcheck.forked)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial

from driftcheck.audit import (
    Progress,
    audit_cluster,
    desired_apps,
    destinations,
    live_scope,
    open_reader,
    read_live,
    render_deferred,
    render_desired,
)
from driftcheck.clusters.fleet import ClusterResult, FleetRun
from driftcheck.clusters.plan import ClusterRun
from driftcheck.commands.options import CheckOptions
from driftcheck.forked import WorkerLost
from driftcheck.model import AuditReport, DriftcheckError, LiveState


def run_audit(options: CheckOptions,
              progress: Progress = lambda _m: None) -> tuple[list[AuditReport], str | None]:
    """The whole run (run_fleet) as its reports; the first cluster that could not be read fails it."""
    fleet = run_fleet(options, progress)
    for result in fleet.results:
        if result.report is None:
            raise DriftcheckError(f"cluster {result.name}: {result.error}")
    return fleet.reports, fleet.explained


def run_fleet(options: CheckOptions, progress: Progress = lambda _m: None,
              publish: Callable[[ClusterResult, bool], None] = lambda _r, _several: None) -> FleetRun:
    """The Git side once, then one AuditReport per destination cluster, each cluster read once (a few at
    a time, over --workers processes), each result given to `publish` as soon as it is there, with
    whether it is one of several (the order they come in; FleetRun's is the plan's); with one cluster,
    its read error fails the run as it always has."""
    from driftcheck.clusters.fleet import ReadCount, read_all
    from driftcheck.clusters.shard import select
    from driftcheck.compare import available_packs, load_rules
    from driftcheck.forked import MAX_WORKERS, available_cpus, balanced, run_forked
    from driftcheck.live.capabilities import DestinationCapabilities
    from driftcheck.render.leaves import leaf_apps

    found = desired_apps(replace(options.source, render_timeout=options.render_timeout), progress,
                         options.cluster)
    discovered = found[2]
    plan = destinations(options, discovered)
    # Every shard renders every app that may be a parent and keeps its own clusters only after
    # app-of-apps: a parent on one shard's cluster may declare a child destined for another shard's.
    plan.narrow(discovered, progress)
    capabilities = {id(run): DestinationCapabilities(run.cluster.live_snapshot,
                                                     partial(open_reader, run.cluster), progress)
                    for run in select(plan.runs, options.shard)}
    by_app = {app.name: capabilities[id(run)] for run in plan.runs if id(run) in capabilities
              for app in run.apps}
    workers = min(options.workers or available_cpus(), MAX_WORKERS)
    # Over several clusters and workers, leaf apps are rendered in the worker of their cluster: in
    # parallel, and by the shard that reads it only (bench.fleet: -6% wall time at 20 x 1,000 objects).
    built = discovered.rendered  # Flux Kustomizations, built with their graph: never rendered again
    leaves = leaf_apps(found[1], [app for app in discovered.apps if app.name not in built]) \
        if workers > 1 and len(plan.runs) > 1 else {}
    unread = [name for name in leaves if name not in by_app]
    git_side = render_desired(options.source, found, options.render_timeout, options.cluster.selector,
                              progress, capabilities_of=lambda app: by_app.get(app.name), workers=workers,
                              defer=leaves, uncounted=len(unread))
    plan.adopt(destinations(options, discovered), discovered, git_side.errors)  # app-of-apps
    # The desired state lives until the last report is written: out of the collector's reach from now on,
    # here and in the workers forked below (bench.fleet: -8% wall time at 20 clusters x 1,000 objects).
    gc.freeze()
    plan.runs = select(plan.runs, options.shard)
    if options.shard is not None and not plan.runs:
        progress(f"shard {options.shard}: no destination cluster of this run is assigned to it")
        return FleetRun()
    for run in plan.runs:  # clusters only app-of-apps children are destined for
        if id(run) not in capabilities:
            capabilities[id(run)] = DestinationCapabilities(run.cluster.live_snapshot,
                                                            partial(open_reader, run.cluster), progress)
    packs = options.rule_packs or discovered.rule_packs or available_packs()
    rules, rule_errors = load_rules(packs, options.rule_files, discovered.rule_sources)
    git_side.errors += rule_errors
    count = None if len(plan.runs) == 1 else ReadCount(len(plan.runs))
    # the apps the parent rendered, and all this run renders (the leaves of its own clusters included)
    rendered = (len(discovered.apps) - len(leaves), len(discovered.apps) - len(unread))
    relayed = ReadCount(len(plan.runs)).in_order(progress, rendered)

    def read(run: ClusterRun, told: Progress) -> LiveState:
        scope = live_scope(run.apps, git_side.desired_by_app, run.cluster.all_namespaces)
        return read_live(run.cluster, scope, told, capabilities[id(run)].reader)

    def audit_share(share: list[ClusterRun], told: Progress) -> Iterator[tuple[ClusterResult, str | None]]:
        """Render their leaf apps, read and audit these clusters (all of the run's, or a forked worker's
        share), one at a time."""
        render_deferred(git_side, [app for run in share for app in run.apps], options.render_timeout,
                        options.cluster.selector, told)
        for run, live in read_all(share, partial(read, told=told), told, count):
            result = ClusterResult(run.name, run.server, [app.name for app in run.apps])
            text = None
            if isinstance(live, DriftcheckError):
                result.error = str(live)
            else:
                own_rules = rules if len(plan.runs) == 1 else rules.fresh()
                result.report, text = audit_cluster(options, git_side, own_rules, run, told, live=live)
            yield result, text

    workers = min(workers, len(plan.runs))
    audited: list[tuple[ClusterResult, str | None]] = []
    if workers > 1:  # comparing is CPU-bound: spread the clusters over processes (driftcheck.forked)
        def weight(run: ClusterRun) -> int:  # its objects; a leaf not rendered yet, its documents
            return 1 + sum(len(git_side.desired_by_app.get(app.name, ())) + leaves.get(app.name, 0)
                           for app in run.apps)

        shares = balanced(plan.runs, weight, workers)
        for got in run_forked(shares, audit_share, relayed):
            for pair in _not_audited(got, audited) if isinstance(got, WorkerLost) else [got]:
                audited.append(pair)
                publish(pair[0], True)
        position = {run.name: i for i, run in enumerate(plan.runs)}
        audited.sort(key=lambda pair: position[pair[0].name])
    else:
        for pair in audit_share(plan.runs, relayed if leaves else progress):
            audited.append(pair)
            publish(pair[0], len(plan.runs) > 1)
    return FleetRun([result for result, _ in audited], next((text for _, text in audited if text), None))


def _not_audited(lost: WorkerLost[list[ClusterRun]], audited: list[tuple[ClusterResult, str | None]],
                 ) -> list[tuple[ClusterResult, str | None]]:
    """The clusters of a lost worker's share it had not sent back, each with why it was lost."""
    done = {result.name for result, _ in audited}
    return [(ClusterResult(run.name, run.server, [app.name for app in run.apps], error=lost.why), None)
            for run in lost.share if run.name not in done]
