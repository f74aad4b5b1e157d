"""What ArgoCD's own namespace holds (`--argocd-namespace NS`), for an audit of the whole instance: the
Applications made by the UI, the CLI or the ApplicationSet controller, not kept in Git; argocd-cm (and
argocd-cmd-params-cm); and the Secrets labelled `argocd.argoproj.io/secret-type` (clusters, repositories,
repo-creds).

All read-only, from the run's cluster (or its --live-snapshot): a LIST each of Applications and ConfigMaps
in NS, and one LIST of Secrets in NS with the label selector. Secrets are readable only with the opt-in RBAC
component deploy/components/argocd-secrets: when the LIST is forbidden the run goes on with a note. Each
Application is declared at `cluster Application NS/NAME` and rendered from its sources like one found in
Git; its status and operation are never read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from driftcheck.apps import FoundApps, find_apps
from driftcheck.apps.argocd_settings import ArgoSettings, parse_argocd_settings, read_argocd_settings
from driftcheck.apps.urls import Document
from driftcheck.clusters.secrets import LiveClusters, live_clusters
from driftcheck.commands.options import ClusterOptions, SourceOptions
from driftcheck.fetch.repo_credentials import RepoCredentials, live_repo_credentials
from driftcheck.fetch.tree import CommitTree, Tree
from driftcheck.kube import REDACTED
from driftcheck.model import DriftcheckError, LiveState

APPLICATION = ("argoproj.io", "Application")
CONFIG_MAP = ("", "ConfigMap")
SECRET = ("", "Secret")
SECRET_TYPE = "argocd.argoproj.io/secret-type"
SETTINGS_MAPS = ("argocd-cm", "argocd-cmd-params-cm")
SECRETS_COMPONENT = "deploy/components/argocd-secrets"


@dataclass
class LiveArgocd:
    """What was read from ArgoCD's namespace, ready for the run: Applications as documents, the cluster
    Secrets as clusters with their credentials, the repository Secrets as fetch credentials."""

    namespace: str
    where: str  # the server URL or the snapshot
    applications: list[Document] = field(default_factory=list)
    settings_maps: list[dict[str, Any]] = field(default_factory=list)  # argocd-cm, argocd-cmd-params-cm
    clusters: LiveClusters = field(default_factory=LiveClusters)
    repo_credentials: RepoCredentials | None = None  # None: no repository Secret was read
    notes: list[str] = field(default_factory=list)

    @property
    def has_settings(self) -> bool:
        return any(m["metadata"].get("name") == "argocd-cm" for m in self.settings_maps)

    def settings(self) -> tuple[ArgoSettings, str]:
        """argocd-cm (with argocd-cmd-params-cm) as --argocd-settings reads a file, and where from."""
        label = f"ConfigMap {self.namespace}/argocd-cm"
        text = yaml.safe_dump_all(self.settings_maps, sort_keys=False)
        return parse_argocd_settings(text, label), f"{label} in the cluster ({self.where})"


def find_instance_apps(tree: CommitTree, source: SourceOptions, cluster: ClusterOptions | None,
                       progress: Callable[[str], None]) -> FoundApps:
    """find_apps, with what --argocd-namespace reads (if given) joined in: the Applications after Git's,
    the cluster Secrets in the directory, their errors and the notes; `found.live` keeps the rest. With
    --flux and a cluster to read (check), Flux's substituteFrom objects are read from it."""
    from driftcheck.flux.variables import cluster_variables

    live = live_applications(source, cluster or ClusterOptions(), progress)
    found = find_apps(tree, source, live.applications if live else None,
                      live.clusters.clusters if live else (),
                      flux_variables=cluster_variables(cluster) if source.flux and cluster else None)
    if live is not None:
        found.live = live
        found.errors += live.clusters.errors
        found.notes += live.notes
    return found


def live_applications(source: SourceOptions, cluster: ClusterOptions,
                      progress: Callable[[str], None]) -> LiveArgocd | None:
    """With --argocd-namespace, what the run's cluster (or its --live-snapshot) holds there, never
    narrowed by -l (it chooses objects, not apps); else None."""
    namespace = source.argocd_namespace
    if not namespace:
        return None
    found, secrets = _read(cluster, namespace)
    where = str(cluster.live_snapshot or found.info.get("server"))
    out = LiveArgocd(namespace, where, live_application_documents(found, namespace))
    out.settings_maps = [r.body for r in found.resources if r.key.group_kind == CONFIG_MAP
                         and r.key.namespace == namespace and r.key.name in SETTINGS_MAPS]
    if CONFIG_MAP in {(g, k) for g, k, _ in found.unreadable}:
        out.notes.append(f"ConfigMap {namespace}/argocd-cm not read: {_why(found, CONFIG_MAP)}")
    progress(f"argocd applications: {len(out.applications)} in namespace {namespace} ({where})")
    readable = _readable_secrets(secrets, namespace, out.notes)
    if readable is not None:
        out.clusters = live_clusters(readable, namespace)
        credentials, problems = live_repo_credentials(readable, namespace)
        out.notes += problems
        repos = len(credentials.repositories) + len(credentials.templates)
        out.repo_credentials = credentials if repos else None
        progress(f"argocd secrets: {len(out.clusters.clusters)} clusters, {repos} repository credentials "
                 f"in namespace {namespace}")
    return out


def chosen_settings(given: str | None, tree: Tree,
                    live: LiveArgocd | None) -> tuple[ArgoSettings, str] | None:
    """--argocd-settings read (a local file, else a path in the audited commit), which wins over the
    argocd-cm read live; else that one; else None. Also where they were read, for the progress line."""
    if given:
        settings, where = read_argocd_settings(given, tree)
        unused = f"; ConfigMap {live.namespace}/argocd-cm not used" if live and live.has_settings else ""
        return settings, where + unused
    return live.settings() if live is not None and live.has_settings else None


def _read(cluster: ClusterOptions, namespace: str) -> tuple[LiveState, LiveState]:
    """(Applications and ConfigMaps, the labelled Secrets) of namespace: two reads, three LISTs."""
    scope = ({APPLICATION, CONFIG_MAP}, {namespace})
    if cluster.live_snapshot is not None:
        from driftcheck.live.snapshot import read_snapshot

        return (read_snapshot(cluster.live_snapshot, *scope, None),
                read_snapshot(cluster.live_snapshot, {SECRET}, {namespace}, SECRET_TYPE))
    from driftcheck.live.cluster import ClusterReader

    reader = ClusterReader(str(cluster.kubeconfig) if cluster.kubeconfig else None, cluster.context,
                           timeout=cluster.request_timeout)
    try:
        return reader.read(*scope, None), reader.read({SECRET}, {namespace}, SECRET_TYPE)
    finally:
        reader.close()


def _readable_secrets(secrets: LiveState, namespace: str, notes: list[str]) -> list[dict[str, Any]] | None:
    """The labelled Secrets of namespace; None, with a note, when they could not be read."""
    if SECRET in {(g, k) for g, k, _ in secrets.unreadable}:
        why = _why(secrets, SECRET)
        hint = f"; apply {SECRETS_COMPONENT}" if why.startswith("forbidden") else ""
        notes.append(f"cluster and repository Secrets in {namespace} not read: "
                     f"{'forbidden' if hint else why}{hint}")
        return None
    bodies = [r.body for r in secrets.resources
              if r.key.group_kind == SECRET and r.key.namespace == namespace]
    redacted = [b for b in bodies if REDACTED in (b.get("data") or {}).values()]
    if redacted:
        notes.append(f"{len(redacted)} Secrets in {namespace} of the snapshot are redacted: not used")
    return [b for b in bodies if b not in redacted]


def _why(live: LiveState, group_kind: tuple[str, str]) -> str:
    return next(why for (g, k, _), why in live.unreadable.items() if (g, k) == group_kind)


def live_application_documents(live: LiveState, namespace: str) -> list[Document]:
    """The Applications live holds in namespace, sorted by name, as (body, where, 0); DriftcheckError when
    the cluster does not serve Applications or refused the list (an audit of nothing is no audit)."""
    where = f"--argocd-namespace {namespace}"
    if APPLICATION in live.not_served:
        raise DriftcheckError(f"{where}: the cluster does not serve applications.argoproj.io "
                              "(ArgoCD's CRDs are not installed)")
    refused = [why for (group, kind, _), why in live.unreadable.items() if (group, kind) == APPLICATION]
    if refused:
        raise DriftcheckError(f"{where}: {refused[0]}")
    found = sorted((r for r in live.resources if r.key.group_kind == APPLICATION
                    and r.key.namespace == namespace), key=lambda r: r.key.name)
    if not found:
        raise DriftcheckError(f"{where}: the cluster holds no Application in namespace {namespace}")
    return [({k: v for k, v in r.body.items() if k not in ("status", "operation")},
             f"cluster Application {namespace}/{r.key.name}", 0) for r in found]
