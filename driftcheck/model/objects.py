"""Objects on either side of a comparison: identity, origin, body, and what the live side read."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from driftcheck.model.pickling import by_fields


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


@by_fields
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


@by_fields
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
