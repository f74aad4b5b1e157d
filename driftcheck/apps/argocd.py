"""ArgoCD Applications → `App`s: finding the documents by glob, and spec.source, destination and
ignoreDifferences as typed data, with the option checks ArgoCD's API makes.

Documents arrive as (body, file, line) read from a tree; nothing here renders or fetches. An Application
that cannot be checked (a plugin, an OCI artifact source, an ApplicationSet) is returned as skipped,
with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from driftcheck.apps.appset import is_cluster_secret
from driftcheck.apps.urls import Document, normalize_repo_url
from driftcheck.fetch.tree import CommitTree
from driftcheck.model import (
    App,
    AppSource,
    ChartSource,
    ClusterRef,
    DefinedBy,
    Destination,
    DirectoryOptions,
    GitSource,
    HelmFileParameter,
    HelmOptions,
    HelmParameter,
    IgnoreRule,
    KustomizeOptions,
    KustomizeReplica,
    Render,
    RunError,
    SkippedApp,
    Source,
    ValuesFile,
)
from driftcheck.model.apps import JsonnetOptions, JsonnetVar
from driftcheck.render.kustomize_options import OptionError, checked_kustomize_options
from driftcheck.render.yaml import load_manifests

ARGOCD_KINDS = ("Application", "ApplicationSet")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A repository-relative glob as a regex: `*` and `?` stay within a directory, `**/` spans any."""
    out = ""
    i = 0
    pattern = pattern.strip().removeprefix("./").lstrip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def find_application_documents(tree: CommitTree, pattern: str) -> tuple[list[Document], list[RunError]]:
    """(body, file, line) of every Application/ApplicationSet, and of every ArgoCD cluster Secret (the
    clusters generator's input), in files matching pattern at this commit."""
    regex = glob_regex(pattern)
    documents: list[Document] = []
    errors: list[RunError] = []
    files = [f for f in tree.list_files("", recurse=True) if regex.match(f)]
    if not files:
        errors.append(RunError(f"--argocd-apps {pattern}: no file matches at commit {tree.sha[:12]}",
                               stage="source"))
    for file in files:
        docs, errs = load_manifests(tree.read(file), file)
        errors.extend(errs)
        documents += [(body, file, line) for body, line in docs
                      if body.get("kind") in ARGOCD_KINDS or is_cluster_secret(body)]
    return documents, errors


def apps_from_argocd(documents: list[Document], repo_urls: set[str],
                     generators: Mapping[tuple[str, int, str], str] | None = None,
                     ) -> tuple[list[App], list[SkippedApp]]:
    """ArgoCD Applications (body, file, line) as apps: their sources here, in other repositories or in
    chart repositories; an Application driftcheck cannot check is skipped with the reason. generators
    names the ApplicationSet element that generated an Application, by (file, line, name)."""
    wanted = {normalize_repo_url(u) for u in repo_urls}
    apps: list[App] = []
    skipped: list[SkippedApp] = []
    seen: dict[str, str] = {}
    for body, file, line in documents:
        kind = body.get("kind")
        if kind not in ARGOCD_KINDS or not str(body.get("apiVersion", "")).startswith("argoproj.io/"):
            continue
        meta = _block(body, "metadata")
        name = str(meta.get("name") or "")
        origin = f"{file}:{line}" if line else file  # a live Application has no line
        reason = _skip_reason(body)
        if not reason and name in seen:
            reason = f"another Application named {name} is defined at {seen[name]}"
        sources: tuple[AppSource, ...] = ()
        if not reason:
            try:
                sources = app_sources(body["spec"], wanted)
            except SourceSpecError as e:
                reason = str(e)
        if reason:
            skipped.append(SkippedApp(name=name, reason=reason, origin=origin))
            continue
        seen[name] = origin
        spec = body["spec"]
        ignore = spec.get("ignoreDifferences") if isinstance(spec.get("ignoreDifferences"), list) else []
        apps.append(App(
            name=name,
            sources=sources,
            destination=destination_of(spec),
            ignore=tuple(IgnoreRule(r) for r in ignore if isinstance(r, dict)),
            defined_by=DefinedBy("argocd-application", file, line,
                                 generator=(generators or {}).get((file, line, name), "")),
        ))
    return apps, skipped


def destination_of(spec: dict[str, Any]) -> Destination:
    """spec.destination: the cluster as written (name, server) and the namespace; resolved per run."""
    block = _block(spec, "destination")
    return Destination(ClusterRef(str(block.get("name") or ""), str(block.get("server") or "")),
                       str(block.get("namespace") or ""))


class SourceSpecError(ValueError):
    """An Application's sources as ArgoCD would refuse them (the message is ArgoCD's reason)."""


_REF_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")


def app_sources(spec: dict[str, Any], wanted: set[str]) -> tuple[AppSource, ...]:
    """spec.sources when it has entries (spec.source is then ignored, as ArgoCD does), else spec.source:
    each as where its files come from (this repository, another, a chart repository), how they render,
    and its `ref` name. wanted = the normalized URLs of this repository."""
    multi = isinstance(spec.get("sources"), list) and bool(spec["sources"])
    raw: list[Any] = spec["sources"] if multi else [spec.get("source")]
    out: list[AppSource] = []
    refs: set[str] = set()
    for i, source in enumerate(raw):
        where = f"spec.sources[{i}]" if multi else "spec.source"
        if not isinstance(source, dict):
            raise SourceSpecError(f"{where} is not a mapping" if multi else "Application without spec.source")
        if source.get("plugin"):
            plugin = source["plugin"].get("name") if isinstance(source["plugin"], dict) else ""
            raise SourceSpecError(f"{where}: needs the config management plugin {plugin or '(unnamed)'}"
                                  " (plugins are not supported)")
        ref = str(source.get("ref") or "") if multi else ""
        if ref and not _REF_NAME.match(ref):
            raise SourceSpecError(f"{where}.ref {ref!r}: a ref name is letters, digits, '_' and '-'")
        if ref and ref in refs:
            raise SourceSpecError(f"multiple sources had the same `ref` key ({ref})")
        refs.add(ref)
        url, path = str(source.get("repoURL") or ""), str(source.get("path") or "")
        chart = source.get("chart")
        if url.startswith("oci://") and not chart:
            raise SourceSpecError(f"{where}: OCI artifact sources (repoURL oci:// without chart) are not "
                                  "supported yet")
        parsed = app_source(source)
        revision = str(source.get("targetRevision") or "")
        where_from: Source
        if chart:
            where_from = ChartSource(url, str(chart), revision)
        elif normalize_repo_url(url) in wanted:
            where_from = GitSource(path=path)  # rendered at the run's commit
        else:
            where_from = GitSource(url=url, revision=revision or "HEAD", path=path,
                                   tag_prefix=str(source.get("tagPrefix") or ""))
        # ArgoCD: in spec.sources, an entry with neither path nor chart only lends its files to $ref
        renders = not multi or bool(path or chart)
        out.append(AppSource(where_from, parsed.render, ref=ref, renders=renders))
    return tuple(out)


def app_source(source: dict[str, Any]) -> AppSource:
    """One spec.source: the Git path and its directory, kustomize and helm blocks as render options, and
    which tool blocks ArgoCD counts as given (its `ExplicitType`, after `NormalizeSource`)."""
    directory = _block(source, "directory")
    kustomize = _block(source, "kustomize")
    helm = _block(source, "helm")
    jsonnet = _block(directory, "jsonnet")
    given = {"kustomize": any(kustomize.get(k) for k in _KUSTOMIZE_NONZERO),
             "helm": any(helm.get(k) for k in _HELM_NONZERO),
             "directory": any(directory.get(k) for k in _DIRECTORY_KEPT)
             or any(jsonnet.get(k) for k in _JSONNET),
             "plugin": source.get("plugin") is not None}
    render = Render(directory=DirectoryOptions(recurse=bool(directory.get("recurse", False)),
                                               include=str(directory.get("include") or ""),
                                               exclude=str(directory.get("exclude") or ""),
                                               jsonnet=jsonnet_options(jsonnet)),
                    kustomize=kustomize_options(kustomize) if kustomize else None,
                    helm=helm_options(helm), declared=tuple(t for t, yes in given.items() if yes))
    return AppSource(GitSource(url=str(source.get("repoURL") or ""),
                               revision=str(source.get("targetRevision") or ""),
                               path=str(source.get("path") or "")), render)


# the fields whose value makes a block non-zero for ArgoCD (`IsZero`); a zero block is dropped
_KUSTOMIZE_NONZERO = ("namePrefix", "nameSuffix", "version", "namespace", "images", "replicas",
                      "commonLabels", "commonAnnotations", "patches", "components", "kubeVersion",
                      "apiVersions",
                      "ignoreMissingComponents")
_HELM_NONZERO = ("version", "releaseName", "valueFiles", "parameters", "fileParameters", "values",
                 "valuesObject", "passCredentials", "ignoreMissingValueFiles", "skipCrds", "skipTests",
                 "skipSchemaValidation", "kubeVersion", "apiVersions", "namespace")
_DIRECTORY_KEPT = ("recurse", "disableExtensionFilter", "include", "exclude")  # a zero block keeps globs
_JSONNET = ("tlas", "extVars", "libs")


def jsonnet_options(jsonnet: dict[str, Any]) -> JsonnetOptions:
    """spec.source.directory.jsonnet typed; tlas/extVars entries without a name are left out."""
    def variables(key: str) -> tuple[JsonnetVar, ...]:
        entries: list[Any] = jsonnet[key] if isinstance(jsonnet.get(key), list) else []
        return tuple(JsonnetVar(str(v["name"]), str(v.get("value", "")), bool(v.get("code")))
                     for v in entries if isinstance(v, dict) and v.get("name"))
    libs: list[Any] = jsonnet["libs"] if isinstance(jsonnet.get("libs"), list) else []
    return JsonnetOptions(tlas=variables("tlas"), ext_vars=variables("extVars"),
                          libs=tuple(str(lib) for lib in libs if isinstance(lib, str) and lib))


def helm_options(helm: dict[str, Any]) -> HelmOptions:
    """spec.source.helm; entries ArgoCD would ignore (a parameter without a name) are left out. ArgoCD
    writes one inline values file: valuesObject when it is given, else values (`ValuesYAML`)."""
    optional = bool(helm.get("ignoreMissingValueFiles"))
    layers: list[str | dict[str, Any]] = []
    if helm.get("valuesObject") is not None:
        obj = helm["valuesObject"]
        layers.append(obj if isinstance(obj, dict) else json.dumps(obj))  # not a map: Helm refuses it
    elif isinstance(helm.get("values"), str) and helm["values"].strip():
        layers.append(helm["values"])
    parameters = [HelmParameter(str(p["name"]), str(p.get("value", "")), bool(p.get("forceString")))
                  for p in _entries(helm, "parameters") if p.get("name")]
    file_parameters = [HelmFileParameter(str(p["name"]), str(p.get("path") or ""))
                       for p in _entries(helm, "fileParameters") if p.get("name")]
    api_versions: list[Any] = helm["apiVersions"] if isinstance(helm.get("apiVersions"), list) else []
    return HelmOptions(
        release_name=str(helm.get("releaseName") or ""),
        values_files=tuple(ValuesFile(str(v), optional=optional) for v in helm.get("valueFiles") or []
                           if isinstance(v, str)),
        values=tuple(layers), parameters=tuple(parameters), skip_crds=bool(helm.get("skipCrds")),
        file_parameters=tuple(file_parameters), namespace=str(helm.get("namespace") or ""),
        kube_version=str(helm.get("kubeVersion") or ""),
        api_versions=tuple(str(a) for a in api_versions if isinstance(a, str) and a),
        skip_schema_validation=bool(helm.get("skipSchemaValidation")), skip_tests=bool(helm.get("skipTests")))


def _entries(block: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = block.get(key)
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def kustomize_options(options: dict[str, Any]) -> KustomizeOptions:
    """spec.source.kustomize typed; what ArgoCD's API would refuse is kept as `refused`, for the renderer
    to report at the Application when it builds (a directory app never reads this block)."""
    try:
        checked = checked_kustomize_options(options)
    except OptionError as e:
        return KustomizeOptions(refused=str(e))
    return KustomizeOptions(
        name_prefix=checked.get("namePrefix", ""), name_suffix=checked.get("nameSuffix", ""),
        namespace=checked.get("namespace", ""), images=tuple(checked.get("images", ())),
        replicas=tuple(KustomizeReplica(r["name"], r["count"]) for r in checked.get("replicas", ())),
        patches=tuple(checked.get("patches", ())), components=tuple(checked.get("components", ())),
        common_labels=checked.get("commonLabels"), common_annotations=checked.get("commonAnnotations"))


def _block(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _skip_reason(body: dict[str, Any]) -> str:
    if body.get("kind") == "ApplicationSet":
        return "ApplicationSet: found outside --argocd-apps expansion; its generated apps are not known"
    meta = _block(body, "metadata")
    if not meta.get("name"):
        return "Application without metadata.name"
    if not isinstance(body.get("spec"), dict):
        return "Application without spec"
    return ""
