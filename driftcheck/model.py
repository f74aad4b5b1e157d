"""The shared dataclasses every stage of a run exchanges; imports no other driftcheck module."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["in-sync", "drifted", "missing", "extra", "unknown"]
STATUSES: tuple[Status, ...] = ("in-sync", "drifted", "missing", "extra", "unknown")


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` -> ("apps", "v1"); `v1` -> ("", "v1"): the core group is the empty string."""
    group, _, version = api_version.rpartition("/")
    return group, version


_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8_text(text: str) -> str:
    """text that any UTF-8 writer accepts: a byte that was not UTF-8 (a Latin-1 file name read with
    surrogateescape) becomes a visible `\\xNN`, so `café.yaml` in Latin-1 is stored as `caf\\xe9.yaml`."""
    if text.isascii():
        return text
    return _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}" if ord(m.group()) >= 0xDC80
                          else f"\\u{ord(m.group()):04x}", text)


@dataclass(frozen=True, order=True)
class ResourceKey:
    """Identity of an object. The version is not part of it: v1beta1 in Git and v1 live are one object."""

    group: str
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str

    @classmethod
    def of(cls, body: dict[str, Any], default_namespace: str = "") -> ResourceKey:
        group, _ = split_api_version(str(body.get("apiVersion", "")))
        meta = body.get("metadata") or {}
        return cls(group, str(body.get("kind", "")), str(meta.get("namespace") or default_namespace),
                   str(meta.get("name", "")))

    @property
    def group_kind(self) -> tuple[str, str]:
        return (self.group, self.kind)

    def __str__(self) -> str:
        gk = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{gk}/{self.namespace}/{self.name}" if self.namespace else f"{gk}/{self.name}"


@dataclass(frozen=True)
class Origin:
    """Where an object came from: a file and line at a commit (desired), or the cluster/a snapshot (live)."""

    kind: Literal["git", "cluster", "snapshot"]
    file: str = ""
    line: int = 0
    commit: str = ""

    def __post_init__(self) -> None:  # the file name is shown and stored, never read again
        object.__setattr__(self, "file", utf8_text(self.file))


@dataclass
class Resource:
    key: ResourceKey
    api_version: str
    body: dict[str, Any]
    origin: Origin


@dataclass(frozen=True)
class ChangedBy:
    """The managedFields entry that owns a differing path."""

    manager: str
    operation: str
    time: str = ""
    subresource: str = ""


@dataclass
class FieldDiff:
    """One differing field. `path` is an RFC 6901 JSON pointer; absent values are None."""

    path: str
    desired: Any
    live: Any
    changed_by: ChangedBy | None = None
    note: str = ""  # e.g. "removed from Git, still live"


@dataclass(frozen=True)
class IgnoredField:
    path: str
    rule: str  # rule id, e.g. "argo-rollouts#0" or "app:blog-system#1"


@dataclass
class ResourceResult:
    key: ResourceKey
    app: str
    status: Status
    api_version: str = ""
    diffs: list[FieldDiff] = field(default_factory=list)
    ignored: list[IgnoredField] = field(default_factory=list)
    source: Origin | None = None
    live_commit: dict[str, Any] | None = None  # {commit, date, behind}
    first_seen: str | None = None
    reason: str = ""  # why unknown/missing/extra, in words


@dataclass
class RunError:
    """Something the run could not do; carries the context a reader needs to find it."""

    message: str
    app: str = ""
    file: str = ""
    line: int = 0
    resource: str = ""
    stage: str = ""  # source | render | live | compare | history | report | rules

    def __post_init__(self) -> None:  # every report format writes UTF-8
        self.message, self.file = utf8_text(self.message), utf8_text(self.file)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        parts = [p for p in (self.app and f"app {self.app}", where, self.resource) if p]
        return f"{', '.join(parts)}: {self.message}" if parts else self.message


class DriftcheckError(Exception):
    """An error that ends a command with one clear line and exit 2 (never a traceback)."""


@dataclass
class DeployEvent:
    commit: str
    date: str  # ISO-8601 with the committer's original offset
    author: str
    message: str
    committer: str = ""
    files: list[str] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)  # {kind, namespace, name, fields[]}
    images: list[dict[str, str]] = field(default_factory=list)  # {resource, container, from, to}
    replicas: list[dict[str, Any]] = field(default_factory=list)  # {resource, from, to}
    revert_of: str | None = None
    restores: str | None = None  # commit whose content this change brings back (rollback)
    merged: list[str] = field(default_factory=list)
    app: str = ""
    note: str = ""


@dataclass
class AppSpec:
    """One app: a path in the repo rendered into a destination namespace, with its own ignore rules."""

    name: str
    path: str
    namespace: str = ""
    recurse: bool = False
    ignore_differences: list[dict[str, Any]] = field(default_factory=list)
    values_files: list[str] = field(default_factory=list)  # Helm
    release_name: str = ""  # Helm; defaults to the app name
    origin: str = ""  # where the app was defined: "cli", "driftcheck.yaml", "argocd/x.yaml"
    # ArgoCD spec.source blocks the render applies on top of the path: {"directory": {include, exclude},
    # "kustomize": {namePrefix, images, ...}, "helm": {values, valuesObject, parameters}}
    source_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class SkippedApp:
    name: str
    reason: str
    origin: str = ""


@dataclass
class AuditReport:
    """Everything a report needs; report/json_report.py turns it into the v1 JSON contract."""

    generated_at: str
    tool_version: str
    source: dict[str, Any]  # repo, revision, commit, commit_date, at
    cluster: dict[str, Any]  # context, server, snapshot
    rules: dict[str, Any]  # packs, digest, unused
    apps: list[dict[str, Any]]  # name, path, namespace, origin, status, counts, error?
    resources: list[ResourceResult]
    coverage: list[dict[str, Any]] = field(default_factory=list)
    unmanaged: list[dict[str, Any]] = field(default_factory=list)
    history: list[DeployEvent] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    skipped_apps: list[SkippedApp] = field(default_factory=list)
    duration_seconds: float | None = None  # wall time of the run, for metrics only (not in the JSON)


@dataclass
class LiveState:
    """What the live side could read: objects, plus what it could not read and why (never `missing`)."""

    resources: list[Resource] = field(default_factory=list)
    # (group, kind, namespace) -> reason, e.g. "forbidden: list secrets in blog-system"; namespace "" = all
    unreadable: dict[tuple[str, str, str], str] = field(default_factory=dict)
    not_served: set[tuple[str, str]] = field(default_factory=set)  # kinds Git uses that the cluster lacks
    cluster_scoped: set[tuple[str, str]] = field(default_factory=set)  # (group, kind) known cluster-scoped
    info: dict[str, Any] = field(default_factory=dict)  # context, server, snapshot, kubernetes_version, time
    requests: int = 0  # API requests made (0 for a snapshot)
