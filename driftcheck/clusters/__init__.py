"""Which cluster an app's destination is, as ArgoCD resolves `spec.destination` (util/argo/argo.go).

ArgoCD's rules (GetDestinationServer, db.GetClusterServersByName): `name` and `server` together are an
error; a `server` is itself, trimmed of a trailing `/`; a `name` must match exactly one cluster's name
(a cluster Secret without `data.name` is matched by no name); `in-cluster` with no cluster of that name
is `https://kubernetes.default.svc`. The clusters are ArgoCD cluster Secrets found in Git with the
Applications, `clusters:` in driftcheck.yaml, and the names `--cluster NAME=CONTEXT` gives.

Deviation: an Application with neither name nor server (ArgoCD: "Destination server missing from app
spec") and every driftcheck.yaml or --path app is the run's cluster, the current context or
--live-snapshot, as before destinations were resolved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from driftcheck.apps.appset.context import Cluster
from driftcheck.model import ClusterRef

IN_CLUSTER_NAME = "in-cluster"  # v1alpha1.KubernetesInClusterName
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"  # v1alpha1.KubernetesInternalAPIServerAddr
_DEFAULT_PORTS = {"https": "443", "http": "80"}


class DestinationError(ValueError):
    """A destination ArgoCD cannot resolve (the message is ArgoCD's)."""


def normalize_server(url: str) -> str:
    """A server URL as two spellings of one API server compare equal: scheme and host lower-cased, the
    default port and trailing `/` dropped (ArgoCD itself only trims the `/`)."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return url
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and str(port) == _DEFAULT_PORTS.get(parts.scheme.lower()):
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), parts.query, ""))


@dataclass(frozen=True)
class Destination:
    """A resolved destination: the server URL (normalized) and the cluster's name for messages."""

    server: str
    name: str


class ClusterDirectory:
    """The known clusters, by name and by server (the same (name, server) given twice counts once)."""

    def __init__(self, clusters: Iterable[Cluster] = ()) -> None:
        self.clusters: list[Cluster] = []
        seen: set[tuple[str, str]] = set()
        for cluster in clusters:
            key = (cluster.name, normalize_server(cluster.server))
            if key not in seen:
                seen.add(key)
                self.clusters.append(cluster)

    def add(self, cluster: Cluster) -> None:
        if (cluster.name, normalize_server(cluster.server)) not in {
                (c.name, normalize_server(c.server)) for c in self.clusters}:
            self.clusters.append(cluster)

    def servers_named(self, name: str) -> list[str]:
        """GetClusterServersByName: the servers of the clusters called `name` (a Secret without a name
        has its server as the generator's name, and is matched by no name)."""
        return [c.server.rstrip("/") for c in self.clusters if c.name == name and c.name != c.server]

    def name_of(self, server: str) -> str:
        """The cluster's name for a server: its Secret's, `in-cluster`, else the URL itself."""
        wanted = normalize_server(server)
        for cluster in self.clusters:
            if normalize_server(cluster.server) == wanted:
                return cluster.name
        return IN_CLUSTER_NAME if wanted == IN_CLUSTER_SERVER else server

    def resolve(self, ref: ClusterRef) -> Destination | None:
        """The destination's cluster, or None for an empty destination (the run's cluster)."""
        if ref.name and ref.server:
            raise DestinationError("application destination can't have both name and server defined: "
                                   f"{ref.name} {ref.server}")
        if ref.server:
            server = ref.server.rstrip("/")
            return Destination(normalize_server(server), self.name_of(server))
        if not ref.name:
            return None
        servers = self.servers_named(ref.name)
        if not servers and ref.name == IN_CLUSTER_NAME:
            servers = [IN_CLUSTER_SERVER]
        if not servers:
            raise DestinationError(f"there are no clusters with this name: {ref.name}")
        if len(servers) > 1:
            raise DestinationError(f"there are {len(servers)} clusters with the same name: "
                                   f"[{' '.join(servers)}]")
        return Destination(normalize_server(servers[0]), ref.name)
