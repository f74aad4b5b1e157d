"""Every HelmRelease the Kustomizations render becomes an App, rendered later like a chart app (tool
`flux-helm`, `helm_render`): the chart found by `helm_chart`, the valuesFrom objects read by `helm_values`
(from the Kustomizations' rendered output, else through `lookup_live` when the run's cluster is readable),
the release name and CRD policy of `helmrelease`, the drift rules of `helm_drift`. The app is
`helmrelease/NS/NAME`, declared where its object was rendered, tracked by the origin labels
helm-controller stamps. One that cannot be rendered (a removed API version was already reported by the
graph; a missing source, a missing values object) is an app with that error, naming the HelmRelease and
its file, and the rest of the run goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftcheck.flux.helm_chart import ChartSources, collect_sources
from driftcheck.flux.helm_drift import ignore_rules
from driftcheck.flux.helm_postrender import ORIGIN_NAME, ORIGIN_NAMESPACE
from driftcheck.flux.helm_values import Found, Lookup, config_map_data, read_layers, secret_data
from driftcheck.flux.helmrelease import HelmRelease, helm_release
from driftcheck.flux.objects import HELM_GROUP, FluxObjectError, group_of, mapping_of
from driftcheck.flux.variables import ClusterVariables
from driftcheck.model import (
    App,
    AppSource,
    ClusterRef,
    DefinedBy,
    Destination,
    GitSource,
    HelmReleaseOptions,
    Render,
    Resource,
    RunError,
    Tracking,
)
from driftcheck.render import Rendered

PREFIX = "helmrelease/"


def app_name(namespace: str, name: str) -> str:
    return f"{PREFIX}{namespace}/{name}"


def cluster_lookup(variables: ClusterVariables) -> Lookup:
    """valuesFrom objects read from the run's cluster (the LISTs substituteFrom shares)."""
    def lookup(kind: str, namespace: str, name: str) -> Found | None:
        data = variables.object_data(kind, namespace, name)
        if isinstance(data, str):
            return Found({}, variables.where, unreadable=data)
        return None if data is None else Found(data, variables.where)
    return lookup


def helm_release_apps(rendered: Mapping[str, Rendered], apps: list[App], this_repo: set[str],
                      lookup_live: Lookup | None = None, cluster: str = ""
                      ) -> tuple[list[App], dict[str, Rendered]]:
    """The HelmRelease apps of the graph's builds (app name -> build), and the builds of those that failed;
    lookup_live reads what Git does not hold from cluster (its name for messages)."""
    resources = [(app, res) for app in apps for res in rendered[app.name].resources]
    sources = ChartSources(collect_sources([(r.key.group, r.key.kind, r.key.namespace, r.key.name, r.body)
                                            for _, r in resources]), this_repo)
    in_git = _values_objects([r for _, r in resources])

    def lookup(kind: str, namespace: str, name: str) -> Found | None:
        found = in_git.get((kind, namespace, name))
        return found if found is not None or lookup_live is None else lookup_live(kind, namespace, name)

    out: list[App] = []
    failed: dict[str, Rendered] = {}
    seen: set[str] = set()
    for parent, res in resources:
        if (res.key.group, res.key.kind) != (HELM_GROUP, "HelmRelease") or group_of(res.body)[1] != "v2":
            continue  # other versions: the graph reported them
        name = app_name(res.key.namespace, res.key.name)
        if name in seen:
            continue
        seen.add(name)
        declared = DefinedBy("flux-helmrelease", res.origin.file, res.origin.line, parent=parent.name)
        try:
            release = helm_release(res.body, res.key.namespace)
            out.append(_app(release, parent, declared, sources, lookup, cluster if lookup_live else ""))
        except FluxObjectError as e:
            app = App(name, (AppSource(GitSource(path=res.origin.file), Render(tool="flux-helm")),),
                      Destination(parent.destination.cluster, res.key.namespace), defined_by=declared)
            out.append(app)
            failed[name] = Rendered(app, errors=[RunError(f"{e} (declared at {declared})", app=name,
                                                          file=res.origin.file, line=res.origin.line,
                                                          resource=str(res.key), stage="source")])
    return out, failed


def _app(release: HelmRelease, parent: App, declared: DefinedBy, sources: ChartSources,
         lookup: Lookup, live_at: str) -> App:
    chart = sources.chart(release)
    spec = release.spec
    meta = mapping_of(spec.get("commonMetadata"))
    options = HelmReleaseOptions(
        name=release.name, namespace=release.namespace, release_name=release.release_name,
        storage_namespace=release.storage_namespace, values_from=read_layers(release, lookup, live_at),
        values=mapping_of(spec.get("values")), crds=release.crd_policy(),
        post_renderers=tuple(mapping_of(mapping_of(p).get("kustomize"))
                             for p in spec.get("postRenderers") or () if mapping_of(p).get("kustomize")),
        common_labels=_strings(meta.get("labels")), common_annotations=_strings(meta.get("annotations")),
        drift_detection=str(mapping_of(spec.get("driftDetection")).get("mode") or ""),
        values_files=chart.values_files, ignore_missing_values_files=chart.ignore_missing_values_files,
        values_files_from_artifact=isinstance(chart.source, GitSource))
    secret = mapping_of(mapping_of(spec.get("kubeConfig")).get("secretRef"))
    cluster = ClusterRef(name=str(secret.get("name") or "kubeConfig")) if secret else \
        parent.destination.cluster
    return App(app_name(release.namespace, release.name),
               (AppSource(chart.source, Render(tool="flux-helm", helm_release=options)),),
               Destination(cluster, release.release_namespace),
               ignore=ignore_rules(spec, str(release)),
               tracking=Tracking(labels={ORIGIN_NAME: release.name, ORIGIN_NAMESPACE: release.namespace}),
               defined_by=declared)


def _values_objects(resources: list[Resource]) -> dict[tuple[str, str, str], Found]:
    """The ConfigMaps and Secrets the Kustomizations render, by (kind, namespace, name)."""
    out: dict[tuple[str, str, str], Found] = {}
    for res in resources:
        if res.key.group != "" or res.key.kind not in ("ConfigMap", "Secret"):
            continue
        where = f"{res.origin.file}:{res.origin.line}" if res.origin.line else res.origin.file
        data = config_map_data(res.body) if res.key.kind == "ConfigMap" else secret_data(res.body)
        out.setdefault((res.key.kind, res.key.namespace, res.key.name), Found(data, f"in Git, {where}"))
    return out


def _strings(value: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in value.items()} if isinstance(value, dict) else {}
