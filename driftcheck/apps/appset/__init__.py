"""ApplicationSets found with the Applications, replaced by the Applications they generate.

The clusters generator reads ArgoCD cluster Secrets found in the same files (label
`argocd.argoproj.io/secret-type: cluster`); `clusters_from_secrets` makes them the `Cluster` records
that `expand` takes, so live clusters can be fed the same way.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from driftcheck.apps.appset.context import Cluster
from driftcheck.apps.appset.expand import expand
from driftcheck.apps.urls import Document
from driftcheck.fetch.tree import Tree
from driftcheck.model import RunError, SkippedApp

SECRET_TYPE = "argocd.argoproj.io/secret-type"
TIMEOUT = 120.0  # seconds for one ApplicationSet's Go templating


def is_cluster_secret(body: dict[str, Any]) -> bool:
    meta: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
    labels: dict[str, Any] = meta["labels"] if isinstance(meta.get("labels"), dict) else {}
    return body.get("kind") == "Secret" and labels.get(SECRET_TYPE) == "cluster"


@dataclass
class Expanded:
    documents: list[Document] = field(default_factory=list)  # Applications, generated ones included
    # (file, line, name) of a generated Application -> its generator element
    generators: dict[tuple[str, int, str], str] = field(default_factory=dict)
    skipped: list[SkippedApp] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)  # the cluster Secrets: destinations resolve by them


def secret_fields(body: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """A Secret's values as the API server holds them (base64 data, stringData over it), and the data
    keys that are not base64 of UTF-8 text."""
    fields: dict[str, str] = {}
    undecodable: list[str] = []
    data = body.get("data")
    for key, value in (data if isinstance(data, dict) else {}).items():
        try:
            fields[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            undecodable.append(str(key))
    string_data = body.get("stringData")
    fields.update({str(k): str(v) for k, v in (string_data if isinstance(string_data, dict) else {}).items()})
    return fields, undecodable


def clusters_from_secrets(documents: list[Document], errors: list[RunError]) -> list[Cluster]:
    """Cluster Secrets as ArgoCD reads them (SecretToCluster): data base64 or stringData, the server's
    trailing '/' trimmed, the name defaulting to the server; a Secret without a server is an error."""
    out: list[Cluster] = []
    for body, file, line in documents:
        if not is_cluster_secret(body):
            continue
        meta = body.get("metadata") or {}
        fields, undecodable = secret_fields(body)
        errors += [RunError(f"cluster Secret {meta.get('name')}: data.{key} is not base64", file=file,
                            line=line, stage="source") for key in undecodable]
        server = fields.get("server", "").rstrip("/")
        if not server:
            errors.append(RunError(f"cluster Secret {meta.get('name')} has no server", file=file, line=line,
                                   stage="source"))
            continue
        out.append(Cluster(fields.get("name") or server, server, fields.get("project", ""),
                           dict(meta.get("labels") or {}), dict(meta.get("annotations") or {})))
    return out


def expand_appsets(documents: list[Document], tree: Tree | None, is_this_repo: Callable[[str], bool],
                   timeout: float = TIMEOUT, configured: Sequence[Cluster] = ()) -> Expanded:
    """documents with every ApplicationSet replaced by its Applications (at the ApplicationSet's file
    and line); what cannot be generated is skipped or an error naming the file and the ApplicationSet.
    configured: driftcheck.yaml's clusters, after the Secrets'."""
    out = Expanded()
    out.clusters = clusters = clusters_from_secrets(documents, out.errors) + list(configured)
    for body, file, line in documents:
        if body.get("kind") != "ApplicationSet":
            if not is_cluster_secret(body):
                out.documents.append((body, file, line))
            continue
        expansion = expand(body, tree, is_this_repo, clusters, timeout)
        name = str((body.get("metadata") or {}).get("name") or "")
        origin = f"{file}:{line}"
        if expansion.error:
            out.errors.append(RunError(expansion.error, app=name, file=file, line=line, stage="source"))
        out.errors += [RunError(w, app=name, file=file, line=line, stage="source", severity="warning")
                       for w in expansion.warnings]
        out.skipped += [SkippedApp(name, reason, origin) for reason in expansion.skipped]
        out.skipped += [SkippedApp(app, reason, origin) for app, reason in expansion.refused]
        for generated in expansion.apps:
            app_name = str(generated.body["metadata"].get("name"))
            out.generators[(file, line, app_name)] = generated.generator
            out.documents.append((generated.body, file, line))
    return out
