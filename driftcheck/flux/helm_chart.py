"""Which chart a HelmRelease installs, as source-controller finds it: a `Source` the fetching layer locates.

- `spec.chart.spec` with a `HelmRepository`: the chart by name at the `version` constraint (`*` by
  default: the newest stable one; an exact version first), from the index of an HTTP repository or from
  the registry of a `type: oci` one, through `fetch.charts.ChartFetcher` (cache, mirrors, --offline).
- `spec.chart.spec` with a `GitRepository`: `chart` is a path in that repository (version ignored); this
  repository's at the audited commit, another through `fetch.remote_git`.
- `spec.chartRef` to an `OCIRepository` (its URL is the chart: `ref.digest` / `ref.semver` / `ref.tag`,
  default `latest`) or to a `HelmChart` (its own chart, version and sourceRef, read as above).

The source objects are those the Kustomizations render; a reference to one that no Kustomization renders
is an error naming it (`FluxObjectError`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from driftcheck.apps.urls import normalize_repo_url
from driftcheck.fetch.chart_oci import is_digest
from driftcheck.flux.helmrelease import ChartReference, HelmRelease
from driftcheck.flux.objects import FluxObjectError, SourceRef, git_repository, mapping_of
from driftcheck.model import ChartSource, GitSource, Source
from driftcheck.scrub import mask_url

SOURCE_KINDS = ("HelmRepository", "GitRepository", "OCIRepository", "HelmChart")
OCI = "oci://"


@dataclass(frozen=True)
class Chart:
    """The chart resolved to a fetchable source, and how a report names it."""

    source: Source
    shown: str  # "chart podinfo * from HelmRepository flux-system/podinfo (https://…)"
    values_files: tuple[str, ...] = ()  # the HelmChart's valuesFiles (`helm_values_files`)
    ignore_missing_values_files: bool = False


class ChartSources:
    """The source objects the Kustomizations rendered, by (kind, namespace, name)."""

    def __init__(self, objects: Mapping[tuple[str, str, str], Mapping[str, Any]],
                 this_repo: set[str]) -> None:
        self.objects = objects
        self.this_repo = {normalize_repo_url(u) for u in this_repo}

    def chart(self, release: HelmRelease) -> Chart:
        ref = release.chart
        if ref.chart_ref and ref.source.kind not in ("OCIRepository", "HelmChart"):
            raise FluxObjectError(f"{release}: spec.chartRef kind {ref.source.kind} is not built (only "
                                  "OCIRepository and HelmChart)")
        field = "spec.chartRef" if ref.chart_ref else "spec.chart.spec.sourceRef"
        body = self._source(release, ref.source, field)
        if ref.source.kind == "OCIRepository":
            return _oci_repository(release, ref.source, body)
        if ref.source.kind == "HelmChart":
            spec = mapping_of(body.get("spec"))
            inner = mapping_of(spec.get("sourceRef"))
            if not spec.get("chart") or not inner.get("kind") or not inner.get("name"):
                raise FluxObjectError(f"{release}: {ref.source} needs spec.chart and spec.sourceRef")
            files = spec.get("valuesFiles") if isinstance(spec.get("valuesFiles"), list) else ()
            ref = ChartReference(SourceRef(str(inner["kind"]), ref.source.namespace, str(inner["name"])),
                                 str(spec["chart"]), str(spec.get("version") or "*"),
                                 values_files=tuple(str(f) for f in files or ()),
                                 ignore_missing_values_files=spec.get("ignoreMissingValuesFiles") is True)
            body = self._source(release, ref.source, f"{ref.source} spec.sourceRef")
        if ref.source.kind == "HelmRepository":
            return replace(_helm_repository(release, ref, body), values_files=ref.values_files,
                           ignore_missing_values_files=ref.ignore_missing_values_files)
        if ref.source.kind == "GitRepository":
            return replace(self._git_chart(release, ref, body), values_files=ref.values_files,
                           ignore_missing_values_files=ref.ignore_missing_values_files)
        raise FluxObjectError(f"{release}: chart source kind {ref.source.kind} is not built (HelmRepository, "
                              "GitRepository, OCIRepository, HelmChart are)")

    def _source(self, release: HelmRelease, ref: SourceRef, field: str) -> Mapping[str, Any]:
        body = self.objects.get((ref.kind, ref.namespace, ref.name))
        if body is None:
            raise FluxObjectError(f"{release}: {field} {ref} does not exist in any Kustomization's rendered "
                                  "output; not rendered")
        return body

    def _git_chart(self, release: HelmRelease, ref: ChartReference, body: Mapping[str, Any]) -> Chart:
        repo = git_repository(body, ref.source.namespace)
        path = posixpath.normpath(ref.chart.strip().strip("/")).removeprefix("./")
        if path.startswith("../") or path == "..":
            raise FluxObjectError(f"{release}: chart path {ref.chart!r} leaves {ref.source}")
        path = "" if path == "." else path
        if normalize_repo_url(repo.url) in self.this_repo:
            return Chart(GitSource(path=path), f"chart {path} of this repository ({ref.source})")
        return Chart(GitSource(url=repo.url, revision=repo.revision, path=path),
                     f"chart {path} of {mask_url(repo.url)} at {repo.revision} ({ref.source})")


def _helm_repository(release: HelmRelease, ref: ChartReference, body: Mapping[str, Any]) -> Chart:
    spec = mapping_of(body.get("spec"))
    url = str(spec.get("url") or "")
    if not url:
        raise FluxObjectError(f"{release}: {ref.source} has no spec.url")
    oci = spec.get("type") == "oci"
    if oci != url.startswith(OCI):
        raise FluxObjectError(f"{release}: {ref.source}: a type: oci HelmRepository needs an oci:// URL "
                              f"and only it may have one ({mask_url(url)})")
    return Chart(ChartSource(url.rstrip("/"), ref.chart, ref.version),
                 f"chart {ref.chart} {ref.version} from {ref.source} ({mask_url(url)})")


def _oci_repository(release: HelmRelease, ref: SourceRef, body: Mapping[str, Any]) -> Chart:
    """An OCIRepository's URL names the chart itself (oci://host/path/chart); its ref picks the tag:
    digest > semver > tag > `latest` (source-controller's precedence); a digest is pulled as chart@digest
    and checked against it (`fetch.chart_oci`)."""
    spec = mapping_of(body.get("spec"))
    url = str(spec.get("url") or "").rstrip("/")
    if not url.startswith(OCI) or "/" not in url[len(OCI):]:
        raise FluxObjectError(f"{release}: {ref} spec.url {mask_url(url)!r} is not oci://HOST/PATH")
    selector = mapping_of(spec.get("ref"))
    digest = str(selector.get("digest") or "")
    if digest and not is_digest(digest):
        raise FluxObjectError(f"{release}: {ref} ref.digest {digest!r} is not sha256:<64 hex digits>")
    version = digest or str(selector.get("semver") or selector.get("tag") or "latest")
    repository, _, chart = url.rpartition("/")
    return Chart(ChartSource(repository, chart, version),
                 f"chart {chart} {version} from {ref} ({mask_url(url)})")


def collect_sources(resources: list[tuple[str, str, str, str, Mapping[str, Any]]]
                    ) -> dict[tuple[str, str, str], Mapping[str, Any]]:
    """(group, kind, namespace, name, body) of rendered objects → the chart sources among them (the first
    rendering of each wins, as the graph keeps the first)."""
    out: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for group, kind, namespace, name, body in resources:
        if group == "source.toolkit.fluxcd.io" and kind in SOURCE_KINDS:
            out.setdefault((kind, namespace, name), body)
    return out
