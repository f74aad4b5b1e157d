"""ArgoCD cluster Secrets read live from its namespace (--argocd-namespace): the clusters they name, and
how ArgoCD reaches each one (util/db/cluster.go SecretToCluster, v1alpha1.ClusterConfig).

Each Secret joins the cluster directory as one found in Git does (name, server, labels for the clusters
generator; a Secret without a server is its error, named `Secret NS/NAME`). Its `config` JSON becomes
`MemoryCredentials` when it holds a bearer token: `tlsClientConfig` {insecure, serverName, caData,
certData, keyData} (base64 PEM, as Go writes []byte). A cluster ArgoCD reaches with an exec plugin,
AWS IAM or a user and password is not read (the reason says to map it with --cluster instead).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from driftcheck import scrub
from driftcheck.apps.appset import clusters_from_secrets, is_cluster_secret, secret_fields
from driftcheck.apps.appset.context import Cluster
from driftcheck.clusters import normalize_server
from driftcheck.live.memory_credentials import MemoryCredentials
from driftcheck.model import RunError

# ClusterConfig keys whose way of authenticating driftcheck does not implement
UNSUPPORTED = {"execProviderConfig": "an exec credential plugin (execProviderConfig)",
               "awsAuthConfig": "AWS IAM authentication (awsAuthConfig)"}


@dataclass(frozen=True)
class SecretCluster:
    """A live cluster Secret's way in: its credentials, or why driftcheck cannot use them."""

    source: str  # "Secret argocd/prod-eu"
    name: str
    credentials: MemoryCredentials | None = None
    unsupported: str = ""  # the reason, when credentials is None


@dataclass
class LiveClusters:
    clusters: list[Cluster] = field(default_factory=list)  # for the directory and the clusters generator
    by_server: dict[str, SecretCluster] = field(default_factory=dict)  # normalized server -> its way in
    errors: list[RunError] = field(default_factory=list)


def live_clusters(secrets: list[dict[str, Any]], namespace: str) -> LiveClusters:
    """The cluster Secrets among secrets (those of namespace), as clusters and their credentials."""
    out = LiveClusters()
    for body in secrets:
        if not is_cluster_secret(body):
            continue
        source = f"Secret {namespace}/{(body.get('metadata') or {}).get('name')}"
        found = clusters_from_secrets([(body, source, 0)], out.errors)
        if not found:
            continue
        out.clusters += found
        fields, _ = secret_fields(body)
        server = normalize_server(found[0].server)
        try:
            out.by_server.setdefault(server, _way_in(fields, found[0], source))
        except ValueError as exc:
            out.errors.append(RunError(f"cluster Secret: config {exc}", file=source, stage="source"))
    return out


def _way_in(fields: dict[str, str], cluster: Cluster, source: str) -> SecretCluster:
    """The Secret's config JSON as the credentials to read the cluster with; ValueError naming the field
    (never a value) when it is malformed."""
    text = fields.get("config", "")
    try:
        config = json.loads(text) if text.strip() else {}
    except ValueError:
        raise ValueError("is not JSON") from None
    if not isinstance(config, dict):
        raise ValueError("is not a JSON object")
    for key in ("bearerToken", "password"):
        if isinstance(config.get(key), str):
            scrub.register(config[key])
    for key, why in UNSUPPORTED.items():
        if config.get(key) is not None:  # as ArgoCD's `!= nil`: an empty block still selects it
            return SecretCluster(source, cluster.name, unsupported=f"{why} is not supported")
    token = config.get("bearerToken")
    if not isinstance(token, str) or not token:
        why = "a user name and password is not supported" if config.get("password") else \
            "its config holds no bearerToken"
        return SecretCluster(source, cluster.name, unsupported=why)
    tls = config.get("tlsClientConfig") or {}
    if not isinstance(tls, dict):
        raise ValueError("tlsClientConfig is not an object")
    insecure = tls.get("insecure", False)
    server_name = tls.get("serverName") or ""
    if not isinstance(insecure, bool) or not isinstance(server_name, str):
        raise ValueError("tlsClientConfig.insecure must be true or false, serverName a string")
    key_pem = _pem(tls, "keyData")
    credentials = MemoryCredentials(cluster.server, source, token, _pem(tls, "caData"), _pem(tls, "certData"),
                                    key_pem, insecure, server_name)
    credentials.register()
    return SecretCluster(source, cluster.name, credentials)


def _pem(tls: dict[str, Any], key: str) -> bytes:
    value = tls.get(key) or ""
    if not isinstance(value, str):
        raise ValueError(f"tlsClientConfig.{key} is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"tlsClientConfig.{key} is not base64") from None
