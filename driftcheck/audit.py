"""One audit run: apps → render → fetch live → compare → history → AuditReport."""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from driftcheck import __version__
from driftcheck.clusters.plan import ClusterRun, Plan
from driftcheck.commands.options import CheckOptions, ClusterOptions, SourceOptions
from driftcheck.kube import AppTally, tally_apps
from driftcheck.model import (
    App,
    AppResolution,
    AuditReport,
    LiveState,
    Resource,
    ResourceKey,
    ResourceResult,
    RunError,
)

if TYPE_CHECKING:
    from driftcheck.compare.rules import RuleSet
    from driftcheck.live.cluster import ClusterReader

Progress = Callable[[str], None]


@dataclass
class DesiredState:
    """The Git side of a run: the commit, the apps found there and what each renders."""

    repo: Any
    tree: Any
    discovered: Any  # apps.FoundApps
    desired_by_app: dict[str, list[Resource]]
    errors: list[RunError]
    rendered: list[Any]  # source.render.Rendered per app, narrowed by -l: what `render` writes
    resolutions: dict[str, AppResolution] = field(default_factory=dict)  # what each app's sources were
    trees: Any = None  # fetch.sources.SourceTrees: history walks other repositories through it
    settings: Any = None  # apps.argocd_settings.ArgoSettings from --argocd-settings, or None
    deferred: frozenset[str] = frozenset()  # leaf apps rendered where their cluster is audited


def desired_apps(source: SourceOptions, progress: Progress = lambda _m: None,
                 cluster: ClusterOptions | None = None) -> tuple[Any, Any, Any]:
    """Open the repo, resolve the commit, find the apps (with --argocd-namespace, those the cluster holds
    too): (repo, tree, found apps); `history` stops here."""
    from driftcheck.apps.live_apps import find_instance_apps
    from driftcheck.fetch.git import open_repo, resolve_commit
    from driftcheck.fetch.tree import CommitTree
    from driftcheck.scrub import mask_url

    repo = open_repo(source.repo, require_fresh=source.require_fresh, token_file=source.git_token_file)
    tree = CommitTree(repo, resolve_commit(repo, source.revision, source.at))
    progress(f"desired state: {mask_url(source.repo)} at {tree.sha[:12]} ({tree.date})")
    discovered = find_instance_apps(tree, source, cluster, progress)
    for note in discovered.notes:
        progress(f"note: {note}")
    return repo, tree, discovered


def desired_state(source: SourceOptions, render_timeout: float = 120.0, selector: str | None = None,
                  progress: Progress = lambda _m: None, show_renderer: bool = False,
                  capabilities: Callable[[], Any] | None = None) -> DesiredState:
    """desired_apps, then render each app (narrowed by -l).

    Shared by check, render and snapshot; show_renderer is render's progress line (it names the tool);
    capabilities gives the destination's (live.capabilities), called only if an app renders Helm.
    """
    found = desired_apps(replace(source, render_timeout=render_timeout), progress)
    return render_desired(source, found, render_timeout, selector, progress, show_renderer,
                          lambda _app: capabilities)


def render_desired(source: SourceOptions, found: tuple[Any, Any, Any], render_timeout: float,
                   selector: str | None, progress: Progress, show_renderer: bool = False,
                   capabilities_of: Callable[[App], Callable[[], Any] | None] = lambda _app: None,
                   workers: int = 1, defer: Collection[str] = (), uncounted: int = 0) -> DesiredState:
    """Render each app of desired_apps' (repo, tree, found apps), with its destination's capabilities;
    with `workers` processes, the plain YAML they read is parsed there meanwhile (render.yaml.parse_ahead).
    The leaf apps in `defer` are left to render_deferred where their cluster is audited; the progress
    lines count all apps but the `uncounted` ones (leaves of clusters this run does not read)."""
    from driftcheck.apps.app_of_apps import AppFamily
    from driftcheck.fetch.moments import parse_moment
    from driftcheck.fetch.sources import SourceTrees
    from driftcheck.render import plain_yaml, render_app
    from driftcheck.render.yaml.parse_ahead import ParseAhead

    repo, tree, discovered = found
    live = discovered.live  # --argocd-namespace: its repository Secrets and argocd-cm
    trees = SourceTrees(tree, fetch=source.fetch, at=parse_moment(source.at) if source.at else None,
                        live_credentials=live.repo_credentials if live else None)
    settings = argocd_settings(source, tree, progress, live)
    problems = settings.problems if settings is not None else []
    state = DesiredState(repo, tree, discovered, {}, [*discovered.errors, *problems], [], {}, trees, settings,
                         frozenset(defer))
    family = AppFamily.of(discovered, tree)
    now = [app for app in discovered.apps if app.name not in state.deferred]
    plain = plain_yaml(trees, now) if workers > 1 else {}
    ahead = ParseAhead([data for files in plain.values() for data in files], workers, progress)
    done = 0
    for app in discovered.apps:  # app-of-apps: each render's children are appended
        if app.name in state.deferred:
            continue
        done += 1
        ahead.ready(plain.get(app.name, []))
        caps = family.capabilities(app, capabilities_of(app))
        rendered = discovered.rendered.get(app.name)  # a Flux Kustomization: built when its graph was
        if rendered is None:
            rendered = render_app(trees, app, timeout=render_timeout, capabilities=caps)
        state.errors += family.adopt(app, rendered.resources, discovered, caps)
        count = _keep_render(state, app, rendered, selector)
        line = f"apps rendered: {done}/{len(discovered.apps) - uncounted}: {app.name}, {count} objects from "
        if show_renderer:
            progress(f"{line}{app.shown_source or '.'} ({rendered.renderer or 'not rendered'})")
        else:
            progress(f"{line}{app.shown_source}")
    ahead.finish()
    return state


def render_deferred(state: DesiredState, apps: list[App], render_timeout: float, selector: str | None,
                    progress: Progress) -> None:
    """The leaf apps among apps that render_desired left to the cluster they are destined for, rendered
    into state (this process's copy of it). Their progress lines are numbered 0: the run renumbers them
    (clusters.fleet.ReadCount.in_order)."""
    from driftcheck.render import render_app

    leaves = [app for app in apps if app.name in state.deferred and app.name not in state.desired_by_app]
    for app in leaves:
        count = _keep_render(state, app, render_app(state.trees, app, timeout=render_timeout), selector)
        progress(f"apps rendered: 0/0: {app.name}, {count} objects from {app.shown_source}")
    if leaves:  # as in the parent (fleet_audit): they live until the reports are written (bench.fleet: -6%)
        gc.freeze()


def _keep_render(state: DesiredState, app: App, rendered: Any, selector: str | None) -> int:
    """One app's render into state: argocd-cm's exclusions (a warning each), its errors, what its sources
    resolved to, and the objects -l selects; returns how many objects it rendered."""
    from driftcheck.render.resolution import app_resolution

    count = len(rendered.resources)
    if state.settings is not None:  # excluded kinds are dropped from desired state, with a warning each
        from driftcheck.apps.argocd_settings import excluded_objects

        kept, dropped = excluded_objects(state.settings, app, rendered.resources)
        rendered = replace(rendered, resources=kept, errors=[*rendered.errors, *dropped])
    state.errors += rendered.errors
    state.resolutions[app.name] = app_resolution(state.trees, rendered)
    state.rendered.append(replace(rendered, resources=selected(selector, rendered.resources)))
    state.desired_by_app[app.name] = state.rendered[-1].resources
    return count


def argocd_settings(source: SourceOptions, tree: Any, progress: Progress, live: Any = None) -> Any:
    """--argocd-settings, else the argocd-cm --argocd-namespace read (apps.live_apps.chosen_settings)."""
    from driftcheck.apps.live_apps import chosen_settings

    chosen = chosen_settings(source.argocd_settings, tree, live)
    if chosen is not None:
        progress(f"argocd settings: {chosen[1]} (tracking by {chosen[0].tracking_method})")
    return chosen[0] if chosen else None


def destinations(options: CheckOptions, discovered: Any) -> Plan:
    """The clusters a run reads, each with its apps, every app's destination resolved (clusters.plan)."""
    from driftcheck.clusters.plan import Mapping, plan_destinations

    configured = [Mapping(c.name, c.context or None, c.snapshot, c.where)
                  for c in discovered.config.clusters if c.context or c.snapshot]
    live = discovered.live  # its cluster Secrets' credentials read destinations nothing else serves
    return plan_destinations(options.cluster, discovered.apps, discovered.clusters, configured,
                             by_secret=live.clusters.by_server if live else None)


def audit_cluster(options: CheckOptions, git_side: DesiredState, rules: RuleSet, target: ClusterRun,
                  progress: Progress, reader: ClusterReader | None = None,
                  live: LiveState | None = None) -> tuple[AuditReport, str | None]:
    """One cluster: read live (unless given) → compare → history → its AuditReport; the Git side's
    errors of apps destined elsewhere are theirs, not this cluster's."""
    from driftcheck.compare import CompareOptions, compare_app, coverage, explain
    from driftcheck.fetch.moments import parse_moment
    from driftcheck.scrub import mask_url

    source, cluster, apps = options.source, target.cluster, target.apps
    tree, discovered, desired_by_app = git_side.tree, git_side.discovered, git_side.desired_by_app
    elsewhere = {a.name for a in discovered.apps} - {a.name for a in apps}
    errors = [e for e in git_side.errors if e.app not in elsewhere]
    if live is None:
        live = read_live(cluster, live_scope(apps, desired_by_app, cluster.all_namespaces), progress, reader)
    # Desired and live objects live until the reports are written: keep the cyclic GC from rescanning
    # them at every collection (bench: -10% CPU at 5,000 and 20,000 objects, same peak RSS).
    gc.freeze()
    compare_options = CompareOptions(gitops_managers=discovered.gitops_managers,
                                     compare_status=options.compare_status,
                                     compare_aggregated_rules=options.compare_aggregated_rules)
    if git_side.settings is not None:  # argocd-cm: how ArgoCD compares, and its system-wide ignore rules
        from driftcheck.compare.rules import add_system_rules

        compare_options = replace(compare_options, **git_side.settings.compare_settings(
            options.compare_status, options.compare_aggregated_rules))
        errors += add_system_rules(rules, git_side.settings.rule_sources())
    results: list[ResourceResult] = []
    for app in apps:
        desired = rekey_cluster_scoped(desired_by_app[app.name], live)
        results += compare_app(app, desired, live, rules.for_app(app), compare_options)
    errors += rules.errors()
    cov, unmanaged = coverage(apps, results, live, compare_options)
    audit_log = None
    if options.audit_logs:  # who made each drifted field's change, from the API server's audit log
        from driftcheck.evidence.attribution import attribute_from_logs

        audit_log = attribute_from_logs(options.audit_logs, results, discovered.gitops_managers,
                                        options.gitops_identities, options.audit_skew)

    history, history_errors, history_repos = app_histories(git_side.repo, tree, apps, results, live,
                                                           options.history_since, git_side.trees)
    errors += history_errors
    from driftcheck.evidence import provenance as commits

    trust = commits.trust_for(options.trusted_signers, git_side.repo)  # only the trust file: never ~/.gnupg
    provenance = commits.annotate(str(git_side.repo.git_dir), history, trust, history_repos)
    warnings = [e for e in errors if e.severity == "warning"]  # reported apart: they fail nothing
    errors = [e for e in errors if e.severity != "warning"]
    tallies = {t.name: t for t in tally_apps((app.name for app in apps), ((r.app, r.status) for r in results),
                                             (e.app for e in errors))}
    from driftcheck.flux.status_history import flux_statuses  # a Kustomization's own status.history

    flux = flux_statuses(apps, live, git_side.repo)
    app_rows = [{**app_row(app, tallies[app.name]), **flux.get(app.name, {})} for app in apps]

    explained = None
    if options.explain_target:
        explained = explain_target(options.explain_target, results, desired_by_app, live, explain)

    report = AuditReport(
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        tool_version=__version__,
        source={"repo": mask_url(source.repo), "revision": source.revision or "HEAD",
                "commit": tree.sha, "commit_date": tree.date,
                "at": parse_moment(source.at).isoformat() if source.at else None},
        cluster={"context": live.info.get("context"), "server": live.info.get("server"),
                 "snapshot": str(cluster.live_snapshot) if cluster.live_snapshot else None},
        rules={"packs": rules.packs, "digest": rules.digest, "unused": rules.unused(),
               "in_force": [{"id": r.id, "file": r.source, "app": r.app, "spec": r.spec}
                            for r in rules.rules]},
        apps=app_rows,
        resources=results,
        coverage=cov,
        audit_log=audit_log,
        provenance=provenance,
        unmanaged=unmanaged,
        history=history,
        errors=errors,
        skipped_apps=discovered.skipped,
        warnings=warnings,
        resolutions={app.name: git_side.resolutions[app.name] for app in apps
                     if app.name in git_side.resolutions},
    )
    return report, explained


def read_live(options: ClusterOptions, scope: tuple[set[tuple[str, str]], set[str] | None],
              progress: Progress, reader: ClusterReader | None = None) -> LiveState:
    """Live objects of the kinds Git uses, in the apps' namespaces, from a snapshot or the API (through
    reader when capabilities already opened one: its discovery documents are not asked for again)."""
    kinds, namespaces = scope
    if options.live_snapshot:
        from driftcheck.live.snapshot import read_snapshot

        progress(f"live state: snapshot {options.live_snapshot}")
        return read_snapshot(options.live_snapshot, kinds, namespaces, options.selector)
    reader = reader or open_reader(options)
    progress(f"live state: {reader.info.get('server')} ({len(kinds)} kinds)")
    return reader.read(kinds, namespaces, options.selector)


def open_reader(options: ClusterOptions) -> ClusterReader:
    from driftcheck.live.cluster import ClusterReader

    return ClusterReader(str(options.kubeconfig) if options.kubeconfig else None, options.context,
                         timeout=options.request_timeout, credentials=options.credentials)


def selected(selector: str | None, resources: list[Resource]) -> list[Resource]:
    """With -l, only the objects the selector chooses: Git is narrowed exactly as the live LISTs are."""
    if not selector:
        return resources
    from driftcheck.live.selector import parse_selector, selects

    requirements = parse_selector(selector)
    return [r for r in resources if selects(requirements, r.body)]


def live_scope(apps: list[App], desired_by_app: dict[str, list[Resource]],
               all_namespaces: bool = False) -> tuple[set[tuple[str, str]], set[str] | None]:
    """The kinds Git uses, and where: the apps' namespaces plus any a manifest names (None = all)."""
    own = [desired_by_app.get(a.name, []) for a in apps]
    kinds = {r.key.group_kind for rs in own for r in rs}
    if all_namespaces:
        return kinds, None
    named = {r.key.namespace for rs in own for r in rs if r.key.namespace}
    return kinds, {a.destination.namespace for a in apps if a.destination.namespace} | named


def rekey_cluster_scoped(desired: list[Resource], live: LiveState) -> list[Resource]:
    """Objects of kinds discovery calls cluster-scoped lose the app's default namespace."""
    out = []
    for res in desired:
        if res.key.namespace and res.key.group_kind in live.cluster_scoped:
            res = Resource(ResourceKey(res.key.group, res.key.kind, "", res.key.name),
                           res.api_version, res.body, res.origin)
        out.append(res)
    return out


def app_row(app: App, tally: AppTally) -> dict[str, Any]:
    """One line of the report's apps[]: where the app comes from and how it stands."""
    return {"name": app.name, "path": app.path, "namespace": app.destination.namespace,
            "origin": str(app.defined_by),
            "status": tally.status, "counts": tally.counts, "errors": tally.errors}


def app_histories(repo: Any, tree: Any, apps: list[App], results: list[ResourceResult],
                  live: LiveState, history_since: str,
                  trees: Any = None) -> tuple[list[Any], list[RunError], dict[str, str]]:
    """Each app's deploy history since --history-since, and for drifts the commit live matches within it
    (or the state in effect at the window's start; see history.app_history). An app of another
    repository walks that one (through trees, the run's SourceTrees; see history.source_history): the
    third item maps those commits to the clone they are in."""
    from driftcheck.fetch.moments import parse_since
    from driftcheck.history import match_live_commit, source_history

    since = parse_since(history_since, tree.date)
    live_by_key = {r.key: r for r in live.resources}
    events: list[Any] = []
    errors: list[RunError] = []
    repos: dict[str, str] = {}
    for app in apps:
        # the walk ends at the window's start; the timeline keeps only the drifted objects' bodies
        drifted = [r for r in results if r.app == app.name and r.status == "drifted" and r.key in live_by_key]
        result = source_history(repo, app, trees, tree.sha, since=since, keep={r.key for r in drifted})
        events += result.events
        errors += result.errors
        repos.update(result.repos)
        for res in drifted:
            res.live_commit = match_live_commit(result, res, live_by_key[res.key])
    return events, errors, repos


def explain_target(target: str, results: list[ResourceResult], desired_by_app: dict[str, list[Resource]],
                   live: LiveState, explain: Callable[..., str]) -> str:
    """KIND/NAME (or KIND/NAMESPACE/NAME) → the explanation of every matching resource."""
    parts = target.split("/")
    kind, name = parts[0].lower(), parts[-1]
    namespace = parts[1] if len(parts) == 3 else None
    desired = {r.key: r for rs in desired_by_app.values() for r in rekey_cluster_scoped(rs, live)}
    live_by_key = {r.key: r for r in live.resources}
    chosen = [r for r in results if r.key.kind.lower() == kind and r.key.name == name
              and (namespace is None or r.key.namespace == namespace)]
    if not chosen:
        return f"--explain {target}: no such resource in the desired or live state"
    return "\n\n".join(explain(r, desired.get(r.key), live_by_key.get(r.key)) for r in chosen)
