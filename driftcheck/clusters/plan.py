"""Which reader serves each app: the run's cluster, `--cluster DEST=CONTEXT`, `--cluster-snapshot DEST=FILE`
and driftcheck.yaml's `clusters:`; an app no reader serves is skipped, never compared with another cluster.

The run's cluster (the current kubeconfig context, or --live-snapshot) serves `in-cluster`, apps without
a destination, and any destination whose server URL is its own (normalized). A destination nothing else
serves is read as ArgoCD reads it, with its live cluster Secret's bearer token (--argocd-namespace;
clusters.secrets); an explicit mapping always wins over the Secret. A mapping's DEST is a
server URL or a cluster name; a name no cluster Secret or `clusters:` entry knows names the mapped
cluster itself, at the server its context (or snapshot header) gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Mapping as Map
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from driftcheck.apps.appset.context import Cluster
from driftcheck.clusters import (
    IN_CLUSTER_NAME,
    IN_CLUSTER_SERVER,
    ClusterDirectory,
    DestinationError,
    normalize_server,
)
from driftcheck.clusters.secrets import SecretCluster
from driftcheck.commands.options import ClusterOptions
from driftcheck.model import App, DriftcheckError, RunError, SkippedApp


@dataclass(frozen=True)
class ClusterRun:
    """One destination cluster of a run (how to read it) and the apps destined for it."""

    cluster: ClusterOptions
    apps: list[App]
    name: str = IN_CLUSTER_NAME  # the destination as the user or the cluster Secrets name it
    server: str = ""  # normalized; "" = the run's cluster before its URL was needed


@dataclass(frozen=True)
class Mapping:
    """A destination mapped to a reader: `dest` as written, a context or a snapshot, and where given."""

    dest: str
    context: str | None = None
    snapshot: Path | None = None
    origin: str = "--cluster"


@dataclass
class Plan:
    runs: list[ClusterRun] = field(default_factory=list)
    skipped: list[SkippedApp] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)

    def narrow(self, discovered: Any, progress: Callable[[str], None]) -> None:
        """Keep only the served apps in the found apps (apps.FoundApps), add the skips and errors;
        DriftcheckError when no app is served."""
        served = {app.name for run in self.runs for app in run.apps}
        if not served:
            why = "; ".join([s.reason for s in self.skipped[:3]] + [str(e) for e in self.errors[:3]])
            raise DriftcheckError(f"no app's destination is served by a cluster this run reads ({why})")
        discovered.apps = [app for app in discovered.apps if app.name in served]
        discovered.skipped += self.skipped
        discovered.errors += self.errors
        if len(self.runs) > 1:
            progress(f"destinations: {len(self.runs)} clusters, {len(served)} apps "
                     f"({', '.join(f'{r.name}: {len(r.apps)}' for r in self.runs)})")

    def adopt(self, later: Plan, discovered: Any, errors: list[RunError]) -> list[ClusterRun]:
        """The apps `later` (a plan of every app, made after app-of-apps rendering found children) serves
        that this plan did not know join their cluster's run; returns the runs of clusters new to it.
        A child no reader serves leaves discovered.apps for its skips, as narrow does."""
        known = {app.name for run in self.runs for app in run.apps}
        new: list[ClusterRun] = []
        for run in later.runs:
            apps = [app for app in run.apps if app.name not in known]
            same = next((r for r in self.runs if (r.name, r.server) == (run.name, run.server)), None)
            if same is not None:
                same.apps.extend(apps)
            elif apps:
                new.append(replace(run, apps=apps))
        self.runs += new
        served = {app.name for run in self.runs for app in run.apps}
        discovered.apps = [app for app in discovered.apps if app.name in served]
        discovered.skipped += [s for s in later.skipped if s.name not in known]
        errors += [e for e in later.errors if e.app not in known]
        return new


def reader_server(options: ClusterOptions) -> str:
    """The server URL a reader serves, read without contacting it: the kubeconfig context's cluster, or
    the snapshot header's; "" when a snapshot does not say."""
    if options.live_snapshot is not None:
        from driftcheck.live.snapshot import read_header

        header = read_header(options.live_snapshot) or {}
        return normalize_server(str(header.get("server") or ""))
    from driftcheck.live.connection import strip_credentials
    from driftcheck.live.kubeconfig import load_configuration

    configuration, _context = load_configuration(str(options.kubeconfig) if options.kubeconfig else None,
                                                  options.context)
    return normalize_server(strip_credentials(str(configuration.host)))


def mappings_of(options: ClusterOptions, configured: Iterable[Mapping] = ()) -> list[Mapping]:
    """driftcheck.yaml's mappings, then the flags' (a flag replaces the config's for the same DEST)."""
    flags = [Mapping(d, context=c) for d, c in options.destinations]
    flags += [Mapping(d, snapshot=s, origin="--cluster-snapshot") for d, s in options.destination_snapshots]
    given = {m.dest for m in flags}
    return [m for m in configured if m.dest not in given] + flags


def plan_destinations(options: ClusterOptions, apps: list[App], clusters: Iterable[Cluster],
                      configured: Iterable[Mapping] = (),
                      server_of: Callable[[ClusterOptions], str] = reader_server,
                      by_secret: Map[str, SecretCluster] | None = None) -> Plan:
    """Group the apps by the reader that serves their destination (the run's cluster first, then the
    mappings in the order given, then the live cluster Secrets' credentials, by normalized server);
    DriftcheckError for a mapping that cannot be placed."""
    directory = ClusterDirectory(clusters)
    mapped: dict[str, ClusterRun] = {}
    for mapping in mappings_of(options, configured):
        reader = replace(options, context=mapping.context, live_snapshot=mapping.snapshot,
                         destinations=[], destination_snapshots=[])
        if mapping.snapshot is None and mapping.context is None:
            raise DriftcheckError(f"{mapping.origin} {mapping.dest}: needs a context or a snapshot")
        server = _mapped_server(mapping, directory, reader, server_of)
        if server in mapped:
            raise DriftcheckError(f"{mapping.origin} {mapping.dest}: {mapped[server].name} already maps "
                                  f"the cluster {server}")
        mapped[server] = ClusterRun(reader, [], mapping.dest, server)
    plan = Plan()
    default_server: str | None = None  # read only when mapped or an app's destination needs it
    if mapped:  # a mapping of the run's own cluster takes its apps: one cluster, one read
        default_server = _default_server(options, server_of, True)
    default = mapped.get(default_server or "") or ClusterRun(options, [])
    through_secret: dict[str, ClusterRun] = {}  # read with their live cluster Secret's credentials
    for app in apps:
        ref = app.destination.cluster
        try:
            destination = directory.resolve(ref)
        except DestinationError as e:
            plan.errors.append(RunError(f"destination: {e}", app=app.name, file=app.defined_by.file,
                                        line=app.defined_by.line, stage="source"))
            continue
        if destination is None:
            default.apps.append(app)
            continue
        if destination.server in mapped:
            mapped[destination.server].apps.append(app)
            continue
        if destination.server != IN_CLUSTER_SERVER and default_server is None:
            default_server = _default_server(options, server_of, bool(mapped))
        if destination.server in (IN_CLUSTER_SERVER, default_server) and destination.server not in mapped:
            default.apps.append(app)
            continue
        label = ref.name or ref.server
        way_in = (by_secret or {}).get(destination.server)
        if way_in is not None and way_in.credentials is not None:
            through_secret.setdefault(destination.server, ClusterRun(
                replace(options, kubeconfig=None, context=None, live_snapshot=None, destinations=[],
                        destination_snapshots=[], credentials=way_in.credentials),
                [], way_in.name, destination.server)).apps.append(app)
            continue
        why = (f"destination {label}: cluster {way_in.source}: {way_in.unsupported}; pass" if way_in
               else f"destination {label} is not mapped to a cluster: pass")
        plan.skipped.append(SkippedApp(app.name, f"{why} --cluster {label}=CONTEXT", str(app.defined_by)))
    if default.apps and default.server not in mapped:
        named = directory.name_of(default_server) if default_server else IN_CLUSTER_NAME
        name = IN_CLUSTER_NAME if named == default_server else named  # no Secret names it
        plan.runs.append(replace(default, name=name, server=default_server or ""))
    plan.runs += [run for run in mapped.values() if run.apps]
    plan.runs += through_secret.values()
    return plan


def _mapped_server(mapping: Mapping, directory: ClusterDirectory, reader: ClusterOptions,
                   server_of: Callable[[ClusterOptions], str]) -> str:
    """The server a mapping's DEST means: the URL written, the named cluster's, or (a new name) the
    reader's own, which then names that cluster."""
    if "://" in mapping.dest:
        return normalize_server(mapping.dest)
    servers = directory.servers_named(mapping.dest)
    if len(servers) > 1:
        raise DriftcheckError(f"{mapping.origin} {mapping.dest}: there are {len(servers)} clusters with the "
                              f"same name: [{' '.join(servers)}]")
    if servers:
        return normalize_server(servers[0])
    if mapping.dest == IN_CLUSTER_NAME:
        return IN_CLUSTER_SERVER
    server = server_of(reader)
    if not server:
        raise DriftcheckError(f"{mapping.origin} {mapping.dest}: no cluster Secret or clusters: entry names "
                              f"{mapping.dest}, and {reader.live_snapshot} records no server; map its URL "
                              "instead")
    directory.add(Cluster(mapping.dest, server))
    return server


def _default_server(options: ClusterOptions, server_of: Callable[[ClusterOptions], str],
                    has_mappings: bool) -> str:
    """The run's cluster's URL; with mappings, a run's cluster that cannot be loaded serves nothing more
    than `in-cluster` (its error comes when it is read)."""
    try:
        return server_of(options)
    except DriftcheckError:
        if has_mappings:
            return ""
        raise
