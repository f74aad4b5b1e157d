"""What an app is: where its files come from, how they render, where they go, how live objects are its own.

One `App` is one ArgoCD Application (or driftcheck.yaml entry, or --path): a tuple of `AppSource`s,
each a `Source` plus the `Render` options ArgoCD's spec.source blocks give it, a `Destination`, the
app's own ignore rules and its tracking. Frozen, with tuples: an app is a value, built once by
`driftcheck.apps` and only read after that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# --- where desired files come from ---

@dataclass(frozen=True)
class GitSource:
    """Files of one Git repository at a revision: ArgoCD repoURL + targetRevision + path."""

    url: str = ""  # "" = the repository the run reads (--repo)
    revision: str = ""  # "" = the run's --revision / --at
    path: str = ""
    tag_prefix: str = ""  # ArgoCD spec.source.tagPrefix: a semver revision matches tags with this prefix


@dataclass(frozen=True)
class ChartSource:
    """A packaged Helm chart from a chart repository (https://…/index.yaml) or a registry (oci://…)."""

    repository: str
    chart: str
    version: str  # as pinned


@dataclass(frozen=True)
class OciSource:
    """Manifests packed as an OCI artifact (ArgoCD oci:// sources, Flux OCIRepository)."""

    url: str
    reference: str  # tag or digest
    path: str = ""


Source = GitSource | ChartSource | OciSource


# --- how a fetched tree becomes objects ---

@dataclass(frozen=True)
class ValuesFile:
    """A Helm values file: relative to the chart, `/`-rooted in its repository, or in the `ref` source."""

    path: str
    ref: str = ""  # ArgoCD `$ref/file.yaml`
    optional: bool = False  # ArgoCD ignoreMissingValueFiles


@dataclass(frozen=True)
class HelmParameter:
    """An ArgoCD helm.parameters entry: `--set name=value`, or `--set-string` with force_string."""

    name: str
    value: str
    force_string: bool = False


@dataclass(frozen=True)
class HelmFileParameter:
    """An ArgoCD helm.fileParameters entry: `--set-file name=path`, the path resolved like a values file."""

    name: str
    path: str


@dataclass(frozen=True)
class HelmOptions:
    """ArgoCD spec.source.helm, typed."""

    release_name: str = ""  # "" = the app's name
    values_files: tuple[ValuesFile, ...] = ()
    # inline layers after the files, in precedence order: helm.values (YAML text, parsed when rendered,
    # so a mistake is the render's error) then helm.valuesObject
    values: tuple[str | Mapping[str, Any], ...] = ()
    parameters: tuple[HelmParameter, ...] = ()
    skip_crds: bool = False
    file_parameters: tuple[HelmFileParameter, ...] = ()
    namespace: str = ""  # .Release.Namespace; "" = the destination namespace
    kube_version: str = ""  # "" = the destination cluster's (Target.capabilities)
    api_versions: tuple[str, ...] = ()  # () = the destination cluster's
    skip_schema_validation: bool = False
    skip_tests: bool = False


@dataclass(frozen=True)
class KustomizeReplica:
    """An ArgoCD kustomize.replicas entry: the workload's name and its count."""

    name: str
    count: int


@dataclass(frozen=True)
class KustomizeOptions:
    """ArgoCD spec.source.kustomize, typed: the edits ArgoCD makes to the kustomization before building."""

    name_prefix: str = ""
    name_suffix: str = ""
    namespace: str = ""
    images: tuple[str, ...] = ()  # `kustomize edit set image` syntax, as ArgoCD takes them
    replicas: tuple[KustomizeReplica, ...] = ()
    patches: tuple[Mapping[str, Any], ...] = ()
    components: tuple[str, ...] = ()
    common_labels: Mapping[str, str] | None = None  # None = not given ({} is given, and empty)
    common_annotations: Mapping[str, str] | None = None
    # why ArgoCD would refuse these options (`replicas[0].count: 'three' is not an integer`); the block
    # is then empty and the renderer reports this at the app's declaration instead of building
    refused: str = ""


@dataclass(frozen=True)
class JsonnetVar:
    """An ArgoCD directory.jsonnet tlas/extVars entry: a string, or Jsonnet code with code."""

    name: str
    value: str
    code: bool = False


@dataclass(frozen=True)
class JsonnetOptions:
    """ArgoCD spec.source.directory.jsonnet: top-level arguments, external variables, library paths."""

    tlas: tuple[JsonnetVar, ...] = ()
    ext_vars: tuple[JsonnetVar, ...] = ()
    libs: tuple[str, ...] = ()  # relative to the repository root


@dataclass(frozen=True)
class DirectoryOptions:
    """ArgoCD spec.source.directory: which files of a plain directory are manifests."""

    recurse: bool = False
    include: str = ""  # ArgoCD glob (see render/glob.DirectoryGlob)
    exclude: str = ""
    jsonnet: JsonnetOptions = JsonnetOptions()


@dataclass(frozen=True)
class SubstitutedFrom:
    """The variables a Kustomization's substituteFrom objects gave, read from the run's cluster (values may
    be a Secret's: never shown), which sources could not be read and why, and the error Flux's build
    fails with when a required one does not exist."""

    values: Mapping[str, str] = field(default_factory=dict, repr=False)
    unreadable: tuple[tuple[str, str], ...] = ()  # ("ConfigMap NS/NAME", why)
    failed: str = ""


@dataclass(frozen=True)
class FluxBuildOptions:
    """A Flux Kustomization's spec fields that change what it builds: kustomize-controller edits them into
    the kustomization (or the one it generates), then substitutes and stamps every object."""

    name: str  # the Kustomization's own name and namespace: the owner labels on every object
    namespace: str
    target_namespace: str = ""
    name_prefix: str | None = None  # None = not given (the file's own stays); "" replaces it too
    name_suffix: str | None = None
    patches: tuple[Mapping[str, Any], ...] = ()
    images: tuple[Mapping[str, Any], ...] = ()
    components: tuple[str, ...] = ()
    ignore_missing_components: bool = False
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    post_build: bool = False  # spec.postBuild given: substitution runs (with variables, or Always)
    substitute: Mapping[str, str] = field(default_factory=dict)
    substitute_from: tuple[tuple[str, str, bool], ...] = ()  # (kind, name, optional)
    substituted_from: SubstitutedFrom | None = None  # what they gave, read from the cluster; None: not read
    substitute_always: bool = False  # substituteStrategy: Always
    strict: bool = True  # StrictPostBuildSubstitutions, on since kustomize-controller 1.9


@dataclass(frozen=True)
class ValuesLayer:
    """One HelmRelease valuesFrom entry as read: where from (for messages), its text, and its targetPath."""

    shown: str  # "ConfigMap podinfo/podinfo-values key values.yaml (in Git)"
    text: str
    target_path: str = ""
    literal: bool = False


@dataclass(frozen=True)
class HelmReleaseOptions:
    """A Flux HelmRelease's spec fields that change what helm-controller installs, resolved: the values
    read from their ConfigMaps/Secrets, the release name shortened, the CRD policy in force."""

    name: str  # the HelmRelease's own name and namespace: the origin labels on every object
    namespace: str
    release_name: str
    storage_namespace: str
    values_from: tuple[ValuesLayer, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)  # spec.values, merged on top
    crds: Literal["Skip", "Create", "CreateReplace"] = "Create"
    post_renderers: tuple[Mapping[str, Any], ...] = ()  # spec.postRenderers[].kustomize blocks
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    drift_detection: str = ""  # spec.driftDetection.mode as given ("" = not given)
    # the HelmChart's valuesFiles, replacing the chart's values.yaml; paths from the artifact root for a
    # chart from Git, else from the chart's root (flux.helm_values_files)
    values_files: tuple[str, ...] = ()
    ignore_missing_values_files: bool = False
    values_files_from_artifact: bool = False


@dataclass(frozen=True)
class Render:
    """How a tree becomes objects. `auto` decides as ArgoCD does (kustomization, Chart.yaml, else directory);
    a block is None when the declaration did not give it."""

    tool: Literal["auto", "directory", "kustomize", "helm", "flux", "flux-helm"] = "auto"
    # the tool blocks an ArgoCD source gives, non-empty as ArgoCD normalizes them, in ArgoCD's order
    # (kustomize, helm, directory, plugin): one names the tool, two or more are ArgoCD's error
    declared: tuple[str, ...] = ()
    directory: DirectoryOptions = DirectoryOptions()
    kustomize: KustomizeOptions | None = None
    helm: HelmOptions | None = None
    flux: FluxBuildOptions | None = None  # tool "flux": a Flux Kustomization built as the controller does
    helm_release: HelmReleaseOptions | None = None  # tool "flux-helm": a HelmRelease as helm-controller


@dataclass(frozen=True)
class AppSource:
    """One entry of ArgoCD spec.sources (or the only source): where, how it renders, and its ref name."""

    source: Source
    render: Render = Render()
    ref: str = ""  # a ref source supplies files ($ref/values.yaml) to the others
    renders: bool = True  # False: a spec.sources entry with neither path nor chart (only a $ref)


# --- where it is deployed, and how live objects say whose they are ---

@dataclass(frozen=True)
class ClusterRef:
    """A destination cluster as the app names it (ArgoCD destination.name / .server); empty = the run's."""

    name: str = ""
    server: str = ""


@dataclass(frozen=True)
class Destination:
    cluster: ClusterRef = ClusterRef()
    namespace: str = ""  # for objects that name none; ArgoCD destination.namespace


@dataclass(frozen=True)
class Tracking:
    """Label values and the annotation prefix that mark a live object as this app's (ArgoCD's methods)."""

    labels: Mapping[str, str] = field(default_factory=dict)  # {"app.kubernetes.io/instance": app}
    annotation: str = ""  # argocd.argoproj.io/tracking-id value prefix, "app:"


@dataclass(frozen=True)
class IgnoreRule:
    """One ArgoCD ignoreDifferences entry as the declaration wrote it. compare/rules.py validates and
    compiles it when the app is compared, so a bad entry is that app's error, as ArgoCD reports it."""

    spec: Mapping[str, Any]


@dataclass(frozen=True)
class DefinedBy:
    """Where the app was declared: for messages, and for history (a chart bump is a change to this file)."""

    kind: Literal["cli", "config", "argocd-application", "flux-kustomization", "flux-helmrelease"] = "cli"
    file: str = ""
    line: int = 0
    generator: str = ""  # the ApplicationSet generator element that produced it
    parent: str = ""  # the app (app-of-apps, Flux parent Kustomization) whose manifests declared it

    def __str__(self) -> str:
        """"cli", or file:line as reports and errors have always shown it."""
        if self.kind == "cli":
            return "cli"
        where = f"{self.file}:{self.line}" if self.line else self.file
        flux = self.kind in ("flux-kustomization", "flux-helmrelease")
        return f"{where} (rendered by {self.parent})" if flux and self.parent \
            else where


@dataclass(frozen=True)
class App:
    """One app to check: sources, destination, own ignore rules, tracking, and where it was declared."""

    name: str
    sources: tuple[AppSource, ...]
    destination: Destination = Destination()
    ignore: tuple[IgnoreRule, ...] = ()
    tracking: Tracking = Tracking()
    defined_by: DefinedBy = DefinedBy()

    # --- transitional, until readers take sources: history (its HistoryApp), render's Target, report rows ---

    @property
    def primary(self) -> AppSource:
        """The first source of this repository that renders; history follows its files. An app rendered
        only from elsewhere (a chart repository, another Git repository) has none: its first source."""
        local = self.local_source
        return local if local is not None else self.sources[0]

    @property
    def local_source(self) -> AppSource | None:
        """The first rendering source in the audited repository (GitSource url ""), if any."""
        return next((s for s in self.sources if s.renders and isinstance(s.source, GitSource)
                     and not s.source.url), None)

    @property
    def path(self) -> str:
        source = self.primary.source
        return source.path if isinstance(source, GitSource) else ""

    @property
    def shown_source(self) -> str:
        """Where the app's objects come from, for progress lines and report rows."""
        source = self.primary.source
        if isinstance(source, ChartSource):
            return f"chart {source.chart} {source.version} from {source.repository}"
        if isinstance(source, GitSource) and source.url:
            return f"{source.url} {source.path or '.'} at {source.revision}"
        return source.path if isinstance(source, GitSource) else source.url

    @property
    def namespace(self) -> str:
        return self.destination.namespace

    @property
    def recurse(self) -> bool:
        return self.primary.render.directory.recurse

    @property
    def values_files(self) -> list[str]:
        helm = self.primary.render.helm
        return [v.path for v in helm.values_files] if helm else []
