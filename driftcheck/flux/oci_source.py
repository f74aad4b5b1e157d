"""An `OCIRepository`'s artifact: its `spec` read as source-controller reads it, the layer pulled through
`fetch.oci_artifact`, and copied into the directory `flux/artifacts.py` makes the artifact in.

`spec.secretRef` names a docker-config Secret in the cluster, which driftcheck does not read: the
registry's credential comes from `--repo-creds` (matched to the `oci://` URL as a chart's is), and the
note says so. `provider` (cloud workload identity), `verify` (cosign/notation) and `certSecretRef` are
not emulated either; each is named in the note, never silently ignored. With `layerSelector.operation:
copy` the artifact is the layer itself, which kustomize-controller unpacks whole: no `.sourceignore` or
`spec.ignore` filtering, unlike `extract`.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftcheck.fetch.oci_artifact import LayerSelector, OciArtifactError, OciRef
from driftcheck.fetch.sources import SourceTrees
from driftcheck.flux.objects import FluxObjectError, SourceRef, mapping_of
from driftcheck.model import OciSource
from driftcheck.scrub import mask_url
from driftcheck.textsafe import shown


@dataclass(frozen=True)
class OciArtifactCopy:
    """What `copy_oci_artifact` made: the app's source, the revision, how the report names it."""

    source: OciSource
    revision: str
    date: str
    shown: str
    filtered: bool  # extract: the ignore rules apply; copy: the layer as it is


def oci_spec(body: Mapping[str, Any], ref: SourceRef) -> tuple[str, OciRef, LayerSelector, bool]:
    """(url, ref, layer selector, insecure) of an OCIRepository; FluxObjectError naming it if malformed."""
    spec = mapping_of(body.get("spec"))
    url = spec.get("url")
    if not isinstance(url, str) or not url.startswith("oci://"):
        raise FluxObjectError(f"{ref}: spec.url must be oci://HOST/NAME")
    r = mapping_of(spec.get("ref"))
    text = {k: str(r.get(k) or "") for k in ("tag", "semver", "semverFilter", "digest")}
    layer = mapping_of(spec.get("layerSelector"))
    operation = str(layer.get("operation") or "extract")
    if operation not in ("extract", "copy"):
        raise FluxObjectError(f"{ref}: spec.layerSelector.operation {shown(operation)} is not extract or "
                              "copy")
    return (url, OciRef(text["tag"], text["semver"], text["semverFilter"], text["digest"]),
            LayerSelector(str(layer.get("mediaType") or ""), operation), spec.get("insecure") is True)


def copy_oci_artifact(trees: SourceTrees, body: Mapping[str, Any], ref: SourceRef, dest: Path
                      ) -> OciArtifactCopy:
    """Pull ref's artifact and copy its files into dest; OciArtifactError naming the URL otherwise."""
    url, oci_ref, selector, insecure = oci_spec(body, ref)
    try:
        pulled = trees.oci_artifacts().pull(url, oci_ref, selector, insecure)
    except OciArtifactError as e:
        raise OciArtifactError(f"{ref}: {e}") from None
    shutil.copytree(pulled.root, dest, symlinks=True)
    notes = _unread(mapping_of(body.get("spec")))
    if pulled.symlinks_skipped:
        notes.append(f"{pulled.symlinks_skipped} symlinks in the layer skipped, as source-controller skips "
                     "them")
    shown_as = f"{mask_url(url)} at {pulled.revision}" + (f" ({'; '.join(notes)})" if notes else "")
    return OciArtifactCopy(OciSource(url, str(oci_ref)), pulled.revision,
                           pulled.annotations.get("org.opencontainers.image.created", ""), shown_as,
                           selector.operation == "extract")


def _unread(spec: Mapping[str, Any]) -> list[str]:
    """What the OCIRepository asks for that driftcheck does not do, in words for the app's notes."""
    notes = []
    secret = mapping_of(spec.get("secretRef")).get("name")
    if secret:
        notes.append(f"spec.secretRef {shown(str(secret))} is a cluster Secret driftcheck does not read: "
                     "the credential is --repo-creds'")
    provider = spec.get("provider")
    if provider and provider != "generic":
        notes.append(f"provider {shown(str(provider))} (workload identity) is not used")
    if spec.get("verify"):
        notes.append("spec.verify: the signature is not verified")
    if spec.get("certSecretRef"):
        notes.append("spec.certSecretRef is not read: the system's CA certificates are used")
    return notes
