"""Container images and replica counts of workloads, as Kustomize's `images:` and `replicas:` leave them.

History reads raw source documents rather than running `kustomize build` per commit, so the two
Kustomize transformations that matter most to a deploy log — image overrides and replica
overrides — are applied here, with Kustomize's semantics, to those raw documents.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

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
