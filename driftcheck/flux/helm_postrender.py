"""helm-controller's post-renderers on a HelmRelease's rendered manifests (`internal/postrender/build.go`):
each `postRenderers[].kustomize` in order (its `patches` and `images` in a kustomization over the
manifests, built with load restrictions and plugins off), then `commonMetadata` labels and annotations,
then the origin labels `helm.toolkit.fluxcd.io/name|namespace`, which win over commonMetadata. Labels and
annotations go on `metadata` only, as the controller's transformers set them.

The kustomize step runs `kustomize build` (or `kubectl kustomize`) in the renderer sandbox over a private
directory; each object keeps the origin it had before, found by its kind, namespace and name.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from driftcheck.flux.objects import HELM_GROUP, mapping_of
from driftcheck.model import HelmReleaseOptions, Origin
from driftcheck.render import sandbox
from driftcheck.render.kustomize import builder
from driftcheck.render.renderer import Document
from driftcheck.render.yaml import dump_yaml, load_manifests

ORIGIN_NAME = f"{HELM_GROUP}/name"
ORIGIN_NAMESPACE = f"{HELM_GROUP}/namespace"
_IMAGE_FIELDS = ("name", "newName", "newTag", "digest")
_TARGET_FIELDS = ("group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector")


class PostRenderError(ValueError):
    """A post-renderer that failed (a patch that does not apply, no kustomize on PATH)."""


def post_render(documents: list[Document], release: HelmReleaseOptions, timeout: float) -> list[Document]:
    """The documents as helm-controller applies them."""
    for block in release.post_renderers:
        documents = _kustomize(documents, block, timeout)
    labels = {**release.common_labels, ORIGIN_NAME: release.name, ORIGIN_NAMESPACE: release.namespace}
    for doc in documents:
        meta = doc.body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            continue
        for part, values in (("labels", labels), ("annotations", release.common_annotations)):
            if values:
                current = meta.get(part)
                meta[part] = {**(current if isinstance(current, dict) else {}), **values}
    return documents


def kustomization(block: Mapping[str, Any]) -> dict[str, Any]:
    """The kustomization helm-controller writes for one `kustomize` post-renderer (only the fields its
    `adaptImages` / `adaptSelector` carry over)."""
    images = [{k: str(v) for k, v in mapping_of(i).items() if k in _IMAGE_FIELDS and v}
              for i in block.get("images") or ()]
    patches = []
    for p in block.get("patches") or ():
        patch = mapping_of(p)
        entry: dict[str, Any] = {"patch": str(patch.get("patch") or "")}
        target = {k: str(v) for k, v in mapping_of(patch.get("target")).items() if k in _TARGET_FIELDS and v}
        if patch.get("target") is not None:
            entry["target"] = target
        patches.append(entry)
    out: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                           "resources": ["helm-output.yaml"]}
    if images:
        out["images"] = images
    if patches:
        out["patches"] = patches
    return out


def _kustomize(documents: list[Document], block: Mapping[str, Any], timeout: float) -> list[Document]:
    command = builder()
    if command is None:
        raise PostRenderError("spec.postRenderers: neither kustomize nor kubectl is on PATH")
    origins = {_identity(d.body): d.origin for d in documents}
    fallback = documents[0].origin if documents else Origin("git", "", 0)
    with tempfile.TemporaryDirectory(prefix="driftcheck-postrender-") as tmp:
        root = Path(tmp)
        stream = "".join(f"---\n{dump_yaml(d.body)}" for d in documents)
        (root / "helm-output.yaml").write_text(stream, encoding="utf-8")
        (root / "kustomization.yaml").write_text(json.dumps(kustomization(block)), encoding="utf-8")
        try:
            proc = sandbox.run([*command, "--load-restrictor", "LoadRestrictionsNone", str(root)], cwd=root,
                               timeout=timeout)
        except sandbox.RenderTimeout:
            raise PostRenderError(f"spec.postRenderers: kustomize did not finish within {timeout:g} s") \
                from None
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().replace(str(root), ".")[-600:]
        raise PostRenderError(f"spec.postRenderers kustomize failed: {detail}")
    docs, errors = load_manifests(proc.stdout, "spec.postRenderers")
    if errors:
        raise PostRenderError(f"spec.postRenderers: {errors[0].message}")
    return [Document(body, origins.get(_identity(body), fallback)) for body, _ in docs]


def _identity(body: Mapping[str, Any]) -> tuple[str, str, str, str]:
    meta = mapping_of(body.get("metadata"))
    return (str(body.get("apiVersion")), str(body.get("kind")), str(meta.get("namespace") or ""),
            str(meta.get("name") or ""))
