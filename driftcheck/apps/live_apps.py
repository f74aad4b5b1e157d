"""Applications as the cluster holds them (`--argocd-namespace NS`): for installations whose Applications
are made by the UI, the CLI or the ApplicationSet controller, not kept in Git.

The run reads them with one read-only LIST of `applications.argoproj.io` in NS (or from --live-snapshot);
this module turns what was read into the documents `find_apps` takes, each declared at
`cluster Application NS/NAME`, and says why when nothing could be read. Each is then rendered from its
sources like an Application found in Git; its status and operation are never read.
"""

from __future__ import annotations

from collections.abc import Callable

from driftcheck.apps.urls import Document
from driftcheck.commands.options import ClusterOptions, SourceOptions
from driftcheck.model import DriftcheckError, LiveState

APPLICATION = ("argoproj.io", "Application")


def live_applications(source: SourceOptions, cluster: ClusterOptions,
                      progress: Callable[[str], None]) -> list[Document] | None:
    """With --argocd-namespace, the Applications the run's cluster (or its --live-snapshot) holds there,
    read with one LIST and never narrowed by -l (it chooses objects, not apps); else None."""
    namespace = source.argocd_namespace
    if not namespace:
        return None
    scope = ({APPLICATION}, {namespace})
    if cluster.live_snapshot is not None:
        from driftcheck.live.snapshot import read_snapshot

        live = read_snapshot(cluster.live_snapshot, *scope, None)
    else:
        from driftcheck.live.cluster import ClusterReader

        reader = ClusterReader(str(cluster.kubeconfig) if cluster.kubeconfig else None, cluster.context,
                               timeout=cluster.request_timeout)
        try:
            live = reader.read(*scope, None)
        finally:
            reader.close()
    documents = live_application_documents(live, namespace)
    where = cluster.live_snapshot or live.info.get("server")
    progress(f"argocd applications: {len(documents)} in namespace {namespace} ({where})")
    return documents


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
