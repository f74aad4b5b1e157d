"""API discovery: which resource, preferred version and scope serve each (group, kind), with few requests.

Only the discovery documents the requested kinds need are read: `/api/v1` when a core kind is asked for,
`/apis` once, then each needed group's preferred version (other versions only for a kind the preferred one
lacks). A kind whose group or version list does not have it is "not served" (CRD not installed?).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from driftcheck import kube
from driftcheck.live.connection import ApiError
from driftcheck.model import DriftcheckError

Get = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class ApiType:
    """One listable resource type: `apps/v1` `deployments`, namespaced."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_kind(self) -> tuple[str, str]:
        return (self.group, self.kind)

    def list_path(self, namespace: str | None = None) -> str:
        """The LIST URL path: per namespace when given (and namespaced), else cluster-wide."""
        base = ("apis", self.group, self.version) if self.group else ("api", self.version)
        if namespace and self.namespaced:
            reason = kube.invalid_namespace(namespace)
            if reason:
                raise ApiError(0, "InvalidNamespace", f"namespace {namespace!r} {reason}")
            return api_path(*base, "namespaces", namespace, self.plural)
        return api_path(*base, self.plural)


def api_path(*segments: str) -> str:
    """`/seg/seg/...`, each segment percent-encoded; a segment that is empty, `.`, `..` or holds `/` or `%`
    (from a hostile discovery document) is refused: it could never name a resource, only redirect."""
    for segment in segments:
        reason = kube.invalid_path_segment(segment)
        if reason:
            raise ApiError(0, "BadResponse", f"API path segment {segment!r} {reason}")
    return "/" + "/".join(quote(segment, safe="") for segment in segments)


@dataclass
class Discovered:
    """What discovery learned: the type for each kind found, and for the others why not."""

    types: dict[tuple[str, str], ApiType] = field(default_factory=dict)
    not_served: set[tuple[str, str]] = field(default_factory=set)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)  # kind -> why discovery could not tell
    cluster_scoped: set[tuple[str, str]] = field(default_factory=set)  # every cluster-scoped kind seen
    seen: list[ApiType] = field(default_factory=list)  # every listable type in the documents read


def discover(get: Get, kinds: Iterable[tuple[str, str]]) -> Discovered:
    """Map each (group, kind) to the API type that serves it; `get` fetches one discovery document."""
    wanted: dict[str, set[str]] = {}
    for group, kind in kinds:
        wanted.setdefault(group, set()).add(kind)
    found = Discovered()
    if "" in wanted:
        _read_versions(get, found, "", ["v1"], wanted[""])
    groups = {g for g in wanted if g}
    if not groups:
        return found
    try:
        versions = {g["name"]: _versions(g) for g in get("/apis").get("groups") or ()}
    except ApiError as exc:
        found.failed |= {(g, k): f"discovery of /apis failed: {exc}" for g in groups for k in wanted[g]}
        return found
    for group in sorted(groups):
        if group in versions:
            _read_versions(get, found, group, versions[group], wanted[group])
        else:
            found.not_served |= {(group, kind) for kind in wanted[group]}
    return found


def served_types(get: Get) -> list[ApiType]:
    """Every listable type at its group's preferred version; a group whose discovery fails is left out."""
    found = Discovered()  # no kind is wanted: only what each document lists, in found.seen
    _read_versions(get, found, "", ["v1"], set())
    for group in get("/apis").get("groups") or ():
        _read_versions(get, found, group["name"], _versions(group)[:1], set())
    return found.seen


def gitops_kinds(types: list[ApiType]) -> set[tuple[str, str]]:
    """What a GitOps repository typically holds: common built-in kinds, plus every kind a CRD adds."""
    return {t.group_kind for t in types if kube.is_snapshot_kind(t.group, t.kind)}


def kinds_named(types: list[ApiType], names: list[str]) -> set[tuple[str, str]]:
    """`Deployment`, `deployments`, `deploy`, `Rollout.argoproj.io` (as kubectl takes them) -> group, kind."""
    chosen = set()
    for name in names:
        resource, _, group = name.partition(".")
        matches = [t for t in types if (not group or t.group == group)
                   and resource.lower() in {t.kind.lower(), t.plural, *t.short_names}]
        if not matches:
            raise DriftcheckError(f"--kinds {name}: the cluster serves no such kind")
        core = [t for t in matches if t.group == ""]  # kubectl's rule: an unqualified name prefers core
        chosen |= {t.group_kind for t in (core or matches)}
    return chosen


def _versions(group: dict[str, Any]) -> list[str]:
    """A group's versions, the preferred one first."""
    preferred = (group.get("preferredVersion") or {}).get("version")
    others = [v["version"] for v in group.get("versions") or () if v.get("version") != preferred]
    return [preferred, *others] if preferred else others


def _read_versions(get: Get, found: Discovered, group: str, versions: list[str], kinds: set[str]) -> None:
    """Walk the group's versions, preferred first, until every wanted kind is placed."""
    missing = set(kinds)
    for version in versions:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            document = get(api_path("apis", group, version) if group else api_path("api", version))
        except ApiError as exc:
            for kind in missing:
                found.failed[(group, kind)] = f"discovery of {path} failed: {exc}"
            return
        for entry in document.get("resources") or ():
            if "/" in entry.get("name", "") or "list" not in (entry.get("verbs") or ()):
                continue  # subresources such as deployments/status, and types that cannot be listed
            api_type = ApiType(group, version, entry["kind"], entry["name"], bool(entry.get("namespaced")),
                               tuple(entry.get("shortNames") or ()))
            found.seen.append(api_type)
            if not api_type.namespaced:
                found.cluster_scoped.add(api_type.group_kind)
            if entry["kind"] in missing:
                found.types[api_type.group_kind] = api_type
                missing.discard(entry["kind"])
        if not missing:
            return
    found.not_served |= {(group, kind) for kind in missing}
