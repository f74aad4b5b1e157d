"""The app's objects at one commit of the walk, as Kustomize's `namespace:`/`images:`/`replicas:` leave them.

History reads raw source documents rather than running `kustomize build` per commit. The Kustomize
transformations that matter most to a deploy log (namespace, image and replica overrides) are applied
here, with Kustomize's semantics; patches and other transformers are not, so fields only they set are
compared as the source documents have them. A blob is parsed once while the app reads it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from driftcheck.fetch.gitobjects import ObjectReader
from driftcheck.history.readset import FileRole
from driftcheck.model import ResourceKey, RunError
from driftcheck.render.kinds import key_of
from driftcheck.render.yaml import load_manifests

# A blob's documents (body, line), its parse errors and the digest of each document.
Parsed = tuple[list[tuple[dict[str, Any], int]], list[RunError], tuple[str, ...]]


@dataclass
class Snapshot:
    """The app's objects after a commit; the timeline of these is what live state is matched against."""

    commit: str
    date: str
    objects: dict[ResourceKey, dict[str, Any]]
    digest: str


@dataclass
class AppState:
    """What the app reads and holds at one commit; equal digests mean nothing a deploy shows changed."""

    files: dict[str, str]  # path -> blob id, for every file the app reads
    objects: dict[ResourceKey, tuple[dict[str, Any], str]]  # key -> (effective body, file)
    digest: str
    broken: dict[str, RunError]  # file -> why it does not parse


class StateReader:
    """AppStates of the walk's rewound `tree`, parsing each blob once while the app reads it.

    The timeline keeps the bodies of the objects in `keep` only (by group, kind and name; all when
    None), so its memory does not grow with every version of every object.
    """

    def __init__(self, tree: dict[str, str], blobs: ObjectReader, namespace: str,
                 keep: set[ResourceKey] | None) -> None:
        self.tree = tree  # the walk's own dict, rewound in place
        self.blobs = blobs
        self.namespace = namespace
        self.keep = None if keep is None else {(k.group, k.kind, k.name) for k in keep}
        self.parsed: dict[str, Parsed] = {}
        self.object_cache: dict[tuple[Any, ...], list[tuple[ResourceKey, dict[str, Any]]]] = {}

    def parse(self, blob: str, path: str, data: bytes | None = None) -> Parsed:
        """Documents, errors and per-document digests of a blob; parsed once per blob id."""
        cached = self.parsed.get(blob)
        if cached is None:
            docs, errs = load_manifests(self.blobs.read(blob) if data is None else data, path)
            digests = tuple(digest(body) for body, _ in docs)
            if errs:
                digests += (f"unparseable:{blob}",)
            cached = (docs, errs, digests)
            self.parsed[blob] = cached
        return cached

    def kustomization(self, path: str) -> dict[str, Any]:
        """The kustomization document at path in the current tree ({} when it holds none)."""
        docs, _, _ = self.parse(self.tree[path], path)
        return docs[0][0] if docs else {}

    def state(self, roles: dict[str, FileRole]) -> AppState:
        files = {p: self.tree[p] for p in roles if p in self.tree}
        unread = {b: p for p, b in files.items() if roles[p].kind != "aux" and b not in self.parsed}
        for blob, data in self.blobs.read_many(list(unread)).items():  # one round trip for all
            self.parse(blob, unread[blob], data)
        objects: dict[ResourceKey, tuple[dict[str, Any], str]] = {}
        digests: list[str] = []
        broken: dict[str, RunError] = {}
        for path, blob in files.items():
            role = roles[path]
            if role.kind == "aux":
                digests.append(f"blob:{blob}")
                continue
            _, errs, doc_digests = self.parse(blob, path)
            digests.extend(doc_digests)
            if errs:
                broken[path] = errs[0]
            if role.kind == "resource":
                for key, body in self._objects(path, blob, role, files):
                    objects[key] = (body, path)
        total = hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()
        return AppState(files, objects, total, broken)

    def _objects(self, path: str, blob: str, role: FileRole,
                 files: dict[str, str]) -> list[tuple[ResourceKey, dict[str, Any]]]:
        """The objects of one resource file, as its kustomizations' namespace/images/replicas leave them."""
        chain_blobs = tuple(files.get(k, "") for k in role.chain)
        cache_key = (blob, role, chain_blobs)
        cached = self.object_cache.get(cache_key)
        if cached is None:
            kusts = [docs[0][0] for k, b in zip(role.chain, chain_blobs, strict=True)
                     if b and (docs := self.parse(b, k)[0])]
            cached = []
            for body, _ in self.parse(blob, path)[0]:
                if not body.get("apiVersion") or not body.get("kind"):
                    continue
                body = transform(body, kusts)
                key = key_of(body, role.namespace or self.namespace)
                if role.namespace and key.namespace:
                    key = ResourceKey(key.group, key.kind, role.namespace, key.name)
                cached.append((key, body))
            self.object_cache[cache_key] = cached
        return cached

    def forget(self, roles: dict[str, FileRole]) -> None:
        """Drop parsed blobs and objects the app no longer reads: only its current files stay cached, so
        memory follows one version of the app, not all of them (a blob read again is parsed again)."""
        current = {self.tree[p] for p in roles if p in self.tree}
        for blob in [b for b in self.parsed if b not in current]:
            del self.parsed[blob]
        for key in [k for k in self.object_cache if k[0] not in current]:
            del self.object_cache[key]

    def snapshot(self, commit: str, date: str, state: AppState) -> Snapshot:
        """The state as the timeline keeps it: the bodies of the objects in `keep` only."""
        return Snapshot(commit, date, {k: body for k, (body, _) in state.objects.items()
                                       if self.keep is None or (k.group, k.kind, k.name) in self.keep},
                        state.digest)


def digest(body: Any) -> str:
    """A digest of the document's content, compared only within this run (a state against its parent's):
    orjson's sorted form, json.dumps's for what orjson refuses (a non-string key, a huge integer)."""
    try:
        text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(text).hexdigest()


# -- Kustomize's `images:` and `replicas:` on raw documents --------------------------------------------

# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "Rollout": ("spec", "template", "spec"),  # argoproj.io Argo Rollouts
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers")
# Kinds Kustomize's `replicas:` transformer touches (kustomize 5 refuses it for others, Rollouts included).
REPLICATED_KINDS = frozenset({"Deployment", "ReplicaSet", "ReplicationController", "StatefulSet"})


def pod_spec(body: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a workload, or None for kinds without one (or a Rollout using workloadRef)."""
    node: Any = body
    for step in POD_SPEC_PATHS.get(str(body.get("kind", "")), ()):
        node = node.get(step) if isinstance(node, dict) else None
    return node if isinstance(node, dict) and node is not body else None


def containers(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, container) for each container of the pod template; init containers are `init:NAME`."""
    spec = pod_spec(body)
    if spec is None:
        return
    for field in CONTAINER_LISTS:
        items = spec.get(field)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            if isinstance(item, dict):
                name = str(item.get("name") or f"#{i}")
                yield (f"init:{name}" if field == "initContainers" else name), item


def container_images(body: dict[str, Any]) -> dict[str, str]:
    """Container label -> image reference."""
    return {label: str(c.get("image") or "") for label, c in containers(body)}


def replica_count(body: dict[str, Any]) -> Any:
    """spec.replicas as written (None when unset)."""
    spec = body.get("spec")
    return spec.get("replicas") if isinstance(spec, dict) else None


def split_image(image: str) -> tuple[str, str, str]:
    """`reg:5000/a/b:1.2@sha256:x` -> ("reg:5000/a/b", "1.2", "sha256:x"); a port is not a tag."""
    name, _, digest = image.partition("@")
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        return name[:colon], name[colon + 1:], digest
    return name, "", digest


def override_image(image: str, override: dict[str, Any]) -> str:
    """One Kustomize `images:` entry applied to one image reference (unchanged if the name differs).

    As kustomize's image tag updater: a new tag and/or digest replaces both the old tag and digest.
    """
    name, tag, digest = split_image(image)
    if override.get("name") != name:
        return image
    name = str(override.get("newName") or name)
    new_tag, new_digest = str(override.get("newTag") or ""), str(override.get("digest") or "")
    if new_tag or new_digest:
        tag, digest = new_tag, new_digest
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def transform(body: dict[str, Any], kustomizations: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The object after the `images:` and `replicas:` of each kustomization, innermost first.

    `kustomizations` lists the kustomization documents that include the object, outermost first,
    as Kustomize nests them. Returns `body` itself when nothing applies, else a transformed copy.
    """
    result = body
    for kust in reversed(kustomizations):
        for override in _entries(kust, "images"):
            result = _with_images(result, override)
        if str(result.get("kind", "")) in REPLICATED_KINDS:
            name = (result.get("metadata") or {}).get("name")
            for entry in _entries(kust, "replicas"):
                if entry.get("name") == name and "count" in entry and replica_count(result) != entry["count"]:
                    result = copy.deepcopy(result) if result is body else result
                    result.setdefault("spec", {})["replicas"] = entry["count"]
    return result


def _entries(kust: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = kust.get(field)
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def _with_images(body: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    images = [str(c.get("image") or "") for _, c in containers(body)]
    if all(not image or override_image(image, override) == image for image in images):
        return body
    result = copy.deepcopy(body)
    for _, container in containers(result):
        if container.get("image"):
            container["image"] = override_image(str(container["image"]), override)
    return result
