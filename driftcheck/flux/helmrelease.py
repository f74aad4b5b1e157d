"""A Flux `HelmRelease` (helm.toolkit.fluxcd.io/v2) as helm-controller reads it: identity, chart reference,
release name and namespaces, CRD policy.

The release name is `spec.releaseName`, else `[targetNamespace-]name`, shortened past 53 characters as
helm-controller's `release.ShortenName` does (the first 40 characters, `-`, the first 12 hex digits of
its sha256). The release namespace is `targetNamespace`, else the HelmRelease's; the storage namespace
`storageNamespace`, else the HelmRelease's (api/v2 `GetReleaseName`, `GetReleaseNamespace`,
`GetStorageNamespace`). A malformed field is an error naming the HelmRelease.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from driftcheck.flux.objects import FluxObjectError, SourceRef, check_version, mapping_of

MAX_RELEASE_NAME = 53  # Helm's limit on a release name
_SHORT_HASH = 12
CrdPolicy = Literal["Skip", "Create", "CreateReplace"]
CRD_POLICIES: tuple[CrdPolicy, ...] = ("Skip", "Create", "CreateReplace")


@dataclass(frozen=True)
class ChartReference:
    """Where the chart comes from: `spec.chart.spec` (chart, version, a source) or `spec.chartRef`."""

    source: SourceRef
    chart: str = ""  # spec.chart.spec.chart: a name in a repository, a path in Git; "" for chartRef
    version: str = "*"  # a semver constraint (HelmRepository charts only)
    chart_ref: bool = False  # spec.chartRef: the source *is* the chart (OCIRepository, HelmChart)
    values_files: tuple[str, ...] = ()  # spec.chart.spec.valuesFiles (a HelmChart's, for chartRef)
    ignore_missing_values_files: bool = False


@dataclass(frozen=True)
class HelmRelease:
    namespace: str
    name: str
    spec: Mapping[str, Any]
    chart: ChartReference

    def __str__(self) -> str:
        return f"HelmRelease {self.namespace}/{self.name}"

    @property
    def target_namespace(self) -> str:
        return str(self.spec.get("targetNamespace") or "")

    @property
    def release_name(self) -> str:
        given = str(self.spec.get("releaseName") or "")
        name = given or (f"{self.target_namespace}-{self.name}" if self.target_namespace else self.name)
        return shorten_name(name)

    @property
    def release_namespace(self) -> str:
        return self.target_namespace or self.namespace

    @property
    def storage_namespace(self) -> str:
        return str(self.spec.get("storageNamespace") or "") or self.namespace

    def crd_policy(self) -> CrdPolicy:
        """The CRD policy a release on the cluster was last given: `upgrade.crds` (default Skip) decides
        for an upgraded release unless it skips, then what the install did (`install.crds`, default Create;
        the deprecated `skipCRDs: true` is Skip)."""
        upgrade = _policy(self, "upgrade", "Skip")
        return upgrade if upgrade != "Skip" else _policy(self, "install", "Create")


def shorten_name(name: str) -> str:
    """helm-controller's `release.ShortenName`."""
    if len(name) <= MAX_RELEASE_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_SHORT_HASH]
    return f"{name[:MAX_RELEASE_NAME - _SHORT_HASH - 1]}-{digest}"


def helm_release(body: Mapping[str, Any], default_namespace: str) -> HelmRelease:
    """The HelmRelease in body; FluxObjectError for a removed API version or a chart it cannot name."""
    check_version(body)
    meta = mapping_of(body.get("metadata"))
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise FluxObjectError("HelmRelease without metadata.name")
    namespace = str(meta.get("namespace") or default_namespace or "default")
    shown = f"HelmRelease {namespace}/{name}"
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise FluxObjectError(f"{shown}: spec is not a mapping")
    for key, kind in (("values", dict), ("valuesFrom", list), ("postRenderers", list),
                      ("commonMetadata", dict), ("driftDetection", dict)):
        if spec.get(key) is not None and not isinstance(spec[key], kind):
            raise FluxObjectError(f"{shown}: spec.{key} is not a {kind.__name__}")
    return HelmRelease(namespace, name, spec, _chart(spec, namespace, shown))


def _chart(spec: Mapping[str, Any], namespace: str, shown: str) -> ChartReference:
    """spec.chart.spec or spec.chartRef (exactly one, as the API's validation requires)."""
    chart, ref = mapping_of(mapping_of(spec.get("chart")).get("spec")), mapping_of(spec.get("chartRef"))
    if bool(chart) == bool(ref):
        raise FluxObjectError(f"{shown}: exactly one of spec.chart and spec.chartRef must be set")
    if ref:
        if not ref.get("kind") or not ref.get("name"):
            raise FluxObjectError(f"{shown}: spec.chartRef needs kind and name")
        return ChartReference(SourceRef(str(ref["kind"]), str(ref.get("namespace") or namespace),
                                        str(ref["name"])), chart_ref=True)
    source = mapping_of(chart.get("sourceRef"))
    if not chart.get("chart") or not source.get("kind") or not source.get("name"):
        raise FluxObjectError(f"{shown}: spec.chart.spec needs chart and sourceRef (kind and name)")
    files = chart.get("valuesFiles") or ()
    return ChartReference(SourceRef(str(source["kind"]), str(source.get("namespace") or namespace),
                                    str(source["name"])), str(chart["chart"]),
                          str(chart.get("version") or "*"),
                          values_files=tuple(str(f) for f in files) if isinstance(files, list) else (),
                          ignore_missing_values_files=chart.get("ignoreMissingValuesFiles") is True)


def _policy(release: HelmRelease, action: str, default: CrdPolicy) -> CrdPolicy:
    block = mapping_of(release.spec.get(action))
    value = block.get("crds")
    if value in CRD_POLICIES:
        return value  # type: ignore[no-any-return]
    if value:
        raise FluxObjectError(f"{release}: spec.{action}.crds {str(value)[:40]!r} is not one of "
                              f"{', '.join(CRD_POLICIES)}")
    return "Skip" if action == "install" and block.get("skipCRDs") is True else default
