"""A generic OCI artifact (what `flux push artifact` uploads) pulled as source-controller pulls an
OCIRepository's, once per run and once per cache.

The reference is chosen as `getArtifactRef` chooses it: `digest`, else `semver` (a Masterminds range over
the repository's tags, after the `semverFilter` regex; a Helm chart layer's `_` read as `+`), else `tag`,
else `latest`. The manifest is an OCI image manifest (or Docker's v2); an index (or manifest list) is
read as go-containerregistry's `remote.Image` reads one, taking the linux/amd64 child (a child without a
platform counts as that). The layer is the first, or the first of `layerSelector.mediaType`. Every
manifest and the layer are checked against their digests before they enter the shared cache
(`fetch/cache.py`: stored by digest, so a manifest blob's name is its digest), and the layer is unpacked
once per digest by `archive.extract_layer` (no way out, symlinks skipped, caps). `--offline` resolves a
tag or a semver range from what the last online run recorded and reads the blobs from the cache.
The credential is the `--repo-creds` Secret of the artifact's URL, else the one of its registry host.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftcheck.fetch import semver
from driftcheck.fetch.archive import ArchiveError, extract_layer
from driftcheck.fetch.cache import Cache
from driftcheck.fetch.oci_http import INDEX_TYPES, MANIFEST_TYPES, RegistryClient, RegistryError
from driftcheck.fetch.repo_credentials import RepoCredential, RepoCredentials
from driftcheck.model import DriftcheckError
from driftcheck.scrub import mask_url
from driftcheck.textsafe import for_terminal

CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MAX_LAYER_BYTES = 256 << 20
MAX_ARTIFACT_BYTES = 512 << 20
MAX_ARTIFACT_FILES = 50_000
PLATFORM = ("linux", "amd64")  # go-containerregistry's default platform
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class OciArtifactError(DriftcheckError):
    """An artifact that cannot be had; the message names the URL (masked) and the reference."""


@dataclass(frozen=True)
class OciRef:
    """`spec.ref` of an OCIRepository."""

    tag: str = ""
    semver: str = ""
    semver_filter: str = ""
    digest: str = ""

    def __str__(self) -> str:
        if self.digest:
            return self.digest
        if self.semver:
            return f"semver {self.semver}" + (f" (filter {self.semver_filter})" if self.semver_filter else "")
        return self.tag or "latest"


@dataclass(frozen=True)
class LayerSelector:
    media_type: str = ""
    operation: str = "extract"  # or "copy": the layer as-is (a Kustomization unpacks it all the same)


@dataclass(frozen=True)
class PulledArtifact:
    """An artifact on disk: its revision as source-controller writes it (`TAG@sha256:…` or the digest),
    the unpacked layer (the cache's, never to be written) and the manifest's annotations."""

    url: str
    revision: str
    digest: str  # of the manifest (or index) the reference named
    layer: str  # the layer's digest
    root: Path
    annotations: dict[str, str] = field(default_factory=dict)
    symlinks_skipped: int = 0


def choose_reference(ref: OciRef, tags: list[str] | None, layer_media_type: str = "") -> str:
    """The tag or digest to pull: digest > semver (over tags, which the caller lists only then) > tag >
    `latest`. OciArtifactError when no tag matches or the range or filter does not parse."""
    if ref.digest:
        if not _DIGEST.match(ref.digest):
            raise OciArtifactError(f"digest {for_terminal(ref.digest)} is not sha256:<64 hex digits>")
        return ref.digest
    if ref.semver:
        candidates = list(tags or ())
        if ref.semver_filter:
            try:
                pattern = re.compile(ref.semver_filter)
            except re.error as e:
                raise OciArtifactError(f"semverFilter {for_terminal(ref.semver_filter)}: {e}") from None
            candidates = [t for t in candidates if pattern.search(t)]
        chart = layer_media_type == CHART_LAYER
        versions = {(t.replace("_", "+") if chart else t): t for t in candidates}
        try:
            semver.parse_constraint(ref.semver)
            found = semver.best_match(ref.semver, [v for v in versions if semver.is_version(v)])
        except semver.SemverError as e:
            raise OciArtifactError(f"semver {for_terminal(ref.semver)}: {e}") from None
        if found is None:
            raise OciArtifactError(f"no tag matches semver {for_terminal(ref.semver)} (of {len(candidates)} "
                                   "tags)")
        return versions[found]
    return ref.tag or "latest"


def select_layer(manifest: dict[str, Any], selector: LayerSelector) -> dict[str, Any]:
    """The layer descriptor selectLayer picks: the first of the media type asked for, else the first."""
    layers = [x for x in manifest.get("layers") or () if isinstance(x, dict)]
    if not layers:
        raise OciArtifactError("no layers found in artifact")
    if selector.media_type:
        for layer in layers:
            if layer.get("mediaType") == selector.media_type:
                return layer
        raise OciArtifactError(f"no layer with media type {for_terminal(selector.media_type)!r} in artifact")
    return layers[0]


def platform_child(index: dict[str, Any]) -> dict[str, Any]:
    """The linux/amd64 manifest of an index (a child without a platform is taken as linux/amd64)."""
    for child in index.get("manifests") or ():
        if not isinstance(child, dict):
            continue
        platform = mapping_of(child.get("platform"))
        if (platform.get("os", PLATFORM[0]), platform.get("architecture", PLATFORM[1])) == PLATFORM:
            return child
    raise OciArtifactError(f"no child with platform {'/'.join(PLATFORM)} in the index")


class OciArtifacts:
    """Every artifact one run pulls, each (url, reference, selector) once, its failure remembered too."""

    def __init__(self, cache: Cache, credentials: RepoCredentials, *, offline: bool, timeout: float) -> None:
        self.cache, self.credentials, self.offline, self.timeout = cache, credentials, offline, timeout
        self._done: dict[tuple[str, OciRef, LayerSelector, bool], PulledArtifact | OciArtifactError] = {}

    def pull(self, url: str, ref: OciRef, selector: LayerSelector, insecure: bool = False) -> PulledArtifact:
        key = (url.rstrip("/"), ref, selector, insecure)
        if key not in self._done:
            try:
                self._done[key] = self._pull(*key)
            except OciArtifactError as e:
                self._done[key] = e
        done = self._done[key]
        if isinstance(done, OciArtifactError):
            raise done
        return done

    def _pull(self, url: str, ref: OciRef, selector: LayerSelector, insecure: bool) -> PulledArtifact:
        where = f"{mask_url(url)} ({for_terminal(str(ref))})"
        try:
            client = RegistryClient(url, self._credential(url), self.timeout, insecure)
            tags = self._tags(client, url) if ref.semver and not ref.digest else None
            reference = choose_reference(ref, tags, selector.media_type)
            digest, manifest = self._manifest(client, url, reference)
            top = digest
            if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
                child = platform_child(manifest)
                digest, manifest = self._manifest(client, url, str(child.get("digest") or ""))
            if manifest.get("mediaType", MANIFEST_TYPES[0]) not in MANIFEST_TYPES:
                raise OciArtifactError(f"media type {for_terminal(str(manifest.get('mediaType')))} is not an "
                                       "image manifest")
            layer = select_layer(manifest, selector)
            root, skipped = self._layer(client, url, layer)
        except (RegistryError, ArchiveError, OciArtifactError) as e:
            raise OciArtifactError(f"OCI artifact {where}: {e}") from None
        annotations = {str(k): str(v) for k, v in (manifest.get("annotations") or {}).items()}
        revision = top if reference.startswith("sha256:") else f"{reference}@{top}"
        return PulledArtifact(url, revision, top, str(layer["digest"]), root, annotations, skipped)

    def _credential(self, url: str) -> RepoCredential | None:
        """The Secret of the artifact's URL (matched as a chart's `oci://` URL is), else of its registry
        host alone (`oci://HOST` or `HOST`), as a docker config keys its credentials by host."""
        host = url.removeprefix("oci://").split("/", 1)[0]
        return self.credentials.for_url(url, "helm") or self.credentials.for_url(f"oci://{host}", "helm")

    def _tags(self, client: RegistryClient, url: str) -> list[str]:
        """The repository's tags, recorded in the cache so --offline resolves a range as the last run did."""
        key = f"oci-tags {url}"
        if self.offline:
            blob = self.cache.blob(self.cache.ref(key) or "")
            if blob is None:
                raise OciArtifactError(f"no list of its tags in the cache {self.cache.root} to resolve "
                                       "the range against (--offline)")
            return [str(t) for t in json.loads(blob.read_text(encoding="utf-8"))]
        tags = client.tags()
        with self.cache.scratch() as tmp:
            (Path(tmp) / "tags.json").write_text(json.dumps(tags), encoding="utf-8")
            self.cache.set_ref(key, self.cache.put(Path(tmp) / "tags.json"))
        return tags

    def _manifest(self, client: RegistryClient, url: str, reference: str) -> tuple[str, dict[str, Any]]:
        """(digest, manifest) at a tag or digest. A digest already in the cache costs no request (its blob
        is named by its digest); a tag is asked for online and recorded, or read from the record offline."""
        key = f"oci-tag {url} {reference}"
        digest = reference if reference.startswith("sha256:") else ""
        if not digest and self.offline:
            digest = self.cache.ref(key) or ""
            if not digest:
                raise OciArtifactError(f"tag {for_terminal(reference)} is not in the cache {self.cache.root} "
                                       "(--offline)")
        blob = self.cache.blob(digest) if digest else None
        if blob is None:
            if self.offline:
                raise OciArtifactError(f"manifest {digest} is not in the cache {self.cache.root} (--offline)")
            body, digest = client.manifest(reference)
            self.cache.downloads += 1
            with self.cache.scratch() as tmp:
                (Path(tmp) / "manifest.json").write_bytes(body)
                self.cache.put(Path(tmp) / "manifest.json")
            blob = self.cache.blob(digest)
            assert blob is not None  # just stored under its own digest
        if not reference.startswith("sha256:") and not self.offline:
            self.cache.set_ref(key, digest)
        try:
            manifest = json.loads(blob.read_bytes())
        except ValueError:
            raise OciArtifactError(f"manifest {digest} is not JSON") from None
        if not isinstance(manifest, dict):
            raise OciArtifactError(f"manifest {digest} is not a JSON object")
        return digest, manifest

    def _layer(self, client: RegistryClient, url: str, layer: dict[str, Any]) -> tuple[Path, int]:
        """The layer unpacked in the cache once per digest (into scratch, then renamed into place whole)."""
        digest = str(layer.get("digest") or "")
        if not _DIGEST.match(digest):
            raise OciArtifactError(f"layer digest {for_terminal(digest)} is not sha256:<64 hex digits>")
        size = layer["size"] if isinstance(layer.get("size"), int) else -1
        with self.cache.lock(f"oci-layer {digest}"):
            blob = self.cache.blob(digest)
            if blob is None:
                if self.offline:
                    raise OciArtifactError(f"layer {digest} is not in the cache {self.cache.root} "
                                           "(--offline)")
                with self.cache.scratch() as tmp:
                    landing = Path(tmp) / "layer.tgz"
                    client.blob(digest, size, landing, MAX_LAYER_BYTES)
                    self.cache.downloads += 1
                    self.cache.put(landing)
                blob = self.cache.blob(digest)
                assert blob is not None  # verified against digest, then stored under it
            place = self.cache.unpacked(digest, "layers")
            skipped_file = place.with_name(place.name + ".symlinks")
            if not place.is_dir():
                with self.cache.scratch() as tmp:
                    skipped = extract_layer(blob, Path(tmp) / "out", name=f"layer {digest[:19]}",
                                            max_bytes=MAX_ARTIFACT_BYTES, max_files=MAX_ARTIFACT_FILES)
                    skipped_file.write_text(str(skipped), encoding="utf-8")
                    os.rename(Path(tmp) / "out", place)
        try:
            skipped = int(skipped_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            skipped = 0
        return place, skipped


def mapping_of(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
