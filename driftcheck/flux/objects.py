"""The Flux objects the graph reads, typed: a `Kustomization` and the `GitRepository` it builds from.

Only the fields that change what is deployed are kept. An object of an API version Flux no longer serves
(`kustomize.toolkit.fluxcd.io/v1beta1`, `v1beta2`; `source.toolkit.fluxcd.io/v1beta1`) is refused with its
name, as the current controllers refuse it; a malformed field is an error naming the object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
HELM_GROUP = "helm.toolkit.fluxcd.io"
SERVED = {KUSTOMIZE_GROUP: ("v1",), SOURCE_GROUP: ("v1",), HELM_GROUP: ("v2",)}
REMOVED = {f"{KUSTOMIZE_GROUP}/v1beta1": "kustomize-controller 1.7", f"{KUSTOMIZE_GROUP}/v1beta2": "1.8",
           f"{SOURCE_GROUP}/v1beta1": "source-controller 1.0", f"{SOURCE_GROUP}/v1beta2": "1.7",
           f"{HELM_GROUP}/v2beta1": "helm-controller 1.4", f"{HELM_GROUP}/v2beta2": "1.5"}
OWNER_NAME = f"{KUSTOMIZE_GROUP}/name"  # the labels kustomize-controller stamps on every object it applies
OWNER_NAMESPACE = f"{KUSTOMIZE_GROUP}/namespace"
Id = tuple[str, str]  # (namespace, name)


class FluxObjectError(ValueError):
    """A Flux object the controller would refuse (removed API version, malformed spec)."""


@dataclass(frozen=True)
class SourceRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Kustomization:
    """One `Kustomization` as the controller reads it."""

    namespace: str
    name: str
    spec: Mapping[str, Any]
    source: SourceRef

    @property
    def id(self) -> Id:
        return self.namespace, self.name

    @property
    def path(self) -> str:
        return str(self.spec.get("path") or "")

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class GitRepository:
    """A `GitRepository`: its URL and the one revision its `ref` chooses."""

    namespace: str
    name: str
    url: str
    revision: str  # as fetch/remote_git takes it: a commit, a ref name, a tag, a semver range, a branch

    def __str__(self) -> str:
        return f"GitRepository {self.namespace}/{self.name}"


def mapping_of(value: Any) -> dict[str, Any]:
    """value when it is a mapping, else an empty one (a malformed field reads as absent)."""
    return value if isinstance(value, dict) else {}


def group_of(body: Mapping[str, Any]) -> tuple[str, str]:
    """(group, version) of a body's apiVersion."""
    group, _, version = str(body.get("apiVersion") or "").rpartition("/")
    return group, version


def is_flux(body: Mapping[str, Any], group: str, kind: str) -> bool:
    return group_of(body)[0] == group and body.get("kind") == kind


def check_version(body: Mapping[str, Any]) -> None:
    """FluxObjectError when the object's API version is one Flux removed (or never served)."""
    group, version = group_of(body)
    if group in SERVED and version not in SERVED[group]:
        api = f"{group}/{version}"
        removed = f"removed in {REMOVED[api]}" if api in REMOVED else "not served"
        raise FluxObjectError(f"{body.get('kind')} {_id_text(body)}: apiVersion {api} is {removed}; "
                              f"use {group}/{SERVED[group][0]}")


def kustomization(body: Mapping[str, Any], default_namespace: str) -> Kustomization:
    """The Kustomization in body (its namespace defaulted as the render left it)."""
    check_version(body)
    namespace, name = _identity(body, default_namespace)
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise FluxObjectError(f"Kustomization {namespace}/{name}: spec is not a mapping")
    ref = spec.get("sourceRef")
    if not isinstance(ref, dict) or not ref.get("kind") or not ref.get("name"):
        raise FluxObjectError(f"Kustomization {namespace}/{name}: spec.sourceRef needs kind and name")
    for key, kind in (("patches", list), ("images", list), ("components", list), ("postBuild", dict),
                      ("commonMetadata", dict)):
        if key in spec and spec[key] is not None and not isinstance(spec[key], kind):
            raise FluxObjectError(f"Kustomization {namespace}/{name}: spec.{key} is not a {kind.__name__}")
    source = SourceRef(str(ref["kind"]), str(ref.get("namespace") or namespace), str(ref["name"]))
    return Kustomization(namespace, name, spec, source)


def git_repository(body: Mapping[str, Any], default_namespace: str) -> GitRepository:
    """The GitRepository in body; its ref reduced to one revision with Flux's precedence
    (branch < tag < semver < name < commit; no ref at all: the `master` branch)."""
    check_version(body)
    namespace, name = _identity(body, default_namespace)
    spec = mapping_of(body.get("spec"))
    url = spec.get("url")
    if not isinstance(url, str) or not url:
        raise FluxObjectError(f"GitRepository {namespace}/{name}: spec.url is missing")
    ref = mapping_of(spec.get("ref"))
    revision = "master"
    for key in ("branch", "tag", "semver", "name", "commit"):
        if isinstance(ref.get(key), str) and ref[key]:
            revision = ref[key]
    return GitRepository(namespace, name, url, revision)


def _identity(body: Mapping[str, Any], default_namespace: str) -> tuple[str, str]:
    meta = mapping_of(body.get("metadata"))
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise FluxObjectError(f"{body.get('kind')} without metadata.name")
    return str(meta.get("namespace") or default_namespace or "default"), name


def _id_text(body: Mapping[str, Any]) -> str:
    meta = mapping_of(body.get("metadata"))
    return f"{meta.get('namespace') or '(no namespace)'}/{meta.get('name') or '(no name)'}"
