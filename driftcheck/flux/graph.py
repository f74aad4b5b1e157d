"""The Flux graph: the root Kustomization built, and every child Kustomization and GitRepository taken from
its parent's *rendered* output (parents patch their children), recursively, each built once.

Each Kustomization becomes one `App` named `NAMESPACE/NAME`, declared where its object was rendered (with
the parent that rendered it), tracked by the owner labels kustomize-controller stamps, its `spec.ignore`
the app's ignore rules (`flux.ignore_rules`; a malformed one an app error). A Kustomization
is known by (namespace, name): one that renders itself (the bootstrap root does) is its own resource; one
that renders an ancestor is a cycle, an error naming both; one two parents render is built once, with a
warning. A source may be declared by any Kustomization, so a child whose source is not known yet waits
until the others are built; one whose source never appears is an app error naming it. A GitRepository of
this repository builds from the audited commit; one of another repository through `fetch.sources`.
"""

from __future__ import annotations

import posixpath
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from driftcheck.apps.urls import normalize_repo_url
from driftcheck.fetch.sources import SourceTrees
from driftcheck.flux.artifact_generator import artifact_generator, is_generator
from driftcheck.flux.artifacts import BUILT, NOT_BUILT, ArtifactError, Artifacts, as_run_repo, with_path
from driftcheck.flux.ignore_rules import ignore_rules
from driftcheck.flux.objects import (
    HELM_GROUP,
    KUSTOMIZE_GROUP,
    OWNER_NAME,
    OWNER_NAMESPACE,
    SOURCE_GROUP,
    FluxObjectError,
    Id,
    Kustomization,
    check_version,
    git_repository,
    kustomization,
    mapping_of,
)
from driftcheck.flux.root import BOOTSTRAP_NAMESPACE, find_root
from driftcheck.flux.variables import ClusterVariables
from driftcheck.model import (
    App,
    AppSource,
    ClusterRef,
    DefinedBy,
    Destination,
    FluxBuildOptions,
    GitSource,
    Render,
    Resource,
    RunError,
    SkippedApp,
    Source,
    Tracking,
)
from driftcheck.render import Rendered, render_app
from driftcheck.scrub import mask_url

MAX_DEPTH = 20


@dataclass
class FluxGraph:
    """What a Flux root gives a run: one app per Kustomization, each already rendered."""

    apps: list[App] = field(default_factory=list)
    rendered: dict[str, Rendered] = field(default_factory=dict)  # app name -> its build
    skipped: list[SkippedApp] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # the normalized URLs that mean this repository: the run's, and the root GitRepository's it adopted
    this_repo: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Declared:
    """A Kustomization waiting to be built: where it was rendered, by whom, and its ancestry."""

    kustomization: Kustomization
    file: str
    line: int
    parent: str  # the parent app's name ("" for the root)
    chain: tuple[Id, ...]


def app_name(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


class _Walk:
    def __init__(self, trees: SourceTrees, repo_urls: set[str], strict: bool, timeout: float,
                 variables: ClusterVariables | None = None) -> None:
        self.trees, self.strict, self.timeout, self.variables = trees, strict, timeout, variables
        self.this_repo = {normalize_repo_url(u) for u in repo_urls}
        self.artifacts = Artifacts(trees, self.this_repo)
        self.known: dict[Id, str] = {}  # Kustomization -> the app that rendered it ("" = the root)
        self.graph = FluxGraph()

    def run(self, first: _Declared) -> FluxGraph:
        self.known[first.kustomization.id] = ""
        queue, waiting = deque([first]), []
        while queue:
            item = queue.popleft()
            if not self._build(item, queue):
                waiting.append(item)
                continue
            ready = [w for w in waiting if self._source_known(w.kustomization)]
            waiting = [w for w in waiting if w not in ready]
            queue.extend(ready)
        for item in waiting:
            k = item.kustomization
            where = f"{item.file}:{item.line}" if item.line else item.file or "--flux"
            self._failed(item, f"Kustomization {k} (declared at {where}): spec.sourceRef "
                               f"{self.artifacts.missing(k.source)}; not built")
        return self.graph

    def _source_known(self, k: Kustomization) -> bool:
        return self.artifacts.known(k.source)

    def _build(self, item: _Declared, queue: deque[_Declared]) -> bool:
        """Render item and queue its children; False when its source is not known yet."""
        k = item.kustomization
        if k.source.kind not in BUILT:
            why = NOT_BUILT.get(k.source.kind, "not a kind of source a Kustomization builds from")
            self._failed(item, f"Kustomization {k}: spec.sourceRef {k.source}: {why}; not built")
            return True
        if not self._source_known(k):
            return False
        try:
            artifact = self.artifacts.artifact(k.source)
        except ArtifactError as e:
            self._failed(item, f"Kustomization {k}: {e}; not built")
            return True
        app = self._app(item, artifact.source)
        rendered = render_app(artifact.tree, as_run_repo(app), timeout=self.timeout)
        try:
            app = replace(app, ignore=ignore_rules(k.spec.get("ignore"), f"Kustomization {k}: spec.ignore"))
        except FluxObjectError as e:
            rendered.errors.append(RunError(f"{e}: Flux's apply of this Kustomization fails on it; compared "
                                            "without its spec.ignore", app=app.name, file=item.file,
                                            line=item.line, stage="source"))
        rendered.app = app
        rendered.notes.append(f"{k.source}: {artifact.shown}")
        self.graph.apps.append(app)
        self.graph.rendered[app.name] = rendered
        self._children(item, app, rendered.resources, queue)
        return True

    def _app(self, item: _Declared, source: Source) -> App:
        k = item.kustomization
        spec: Mapping[str, Any] = k.spec
        path = posixpath.normpath(k.path.strip().strip("/")) if k.path.strip().strip("/") else ""
        path = "" if path in (".", "./") else path.removeprefix("./")
        located = with_path(source, path)
        meta = mapping_of(spec.get("commonMetadata"))
        post = spec.get("postBuild") if isinstance(spec.get("postBuild"), dict) else None
        post = post or {}
        options = FluxBuildOptions(
            name=k.name, namespace=k.namespace, target_namespace=str(spec.get("targetNamespace") or ""),
            name_prefix=_text(spec.get("namePrefix")), name_suffix=_text(spec.get("nameSuffix")),
            patches=tuple(spec.get("patches") or ()), images=tuple(spec.get("images") or ()),
            components=tuple(str(c) for c in spec.get("components") or ()),
            ignore_missing_components=spec.get("ignoreMissingComponents") is True,
            common_labels=_strings(meta.get("labels")), common_annotations=_strings(meta.get("annotations")),
            post_build=isinstance(spec.get("postBuild"), dict), substitute=_strings(post.get("substitute")),
            substitute_from=tuple((str(r.get("kind")), str(r.get("name")), r.get("optional") is True)
                                  for r in post.get("substituteFrom") or () if isinstance(r, dict)),
            substitute_always=post.get("substituteStrategy") == "Always", strict=self.strict)
        if options.substitute_from and self.variables is not None:
            read = self.variables.load(k.namespace, options.substitute_from)
            options = replace(options, substituted_from=read)
        kubeconfig = mapping_of(spec.get("kubeConfig"))
        secret = mapping_of(kubeconfig.get("secretRef"))
        cluster = ClusterRef(name=str(secret.get("name") or "kubeConfig")) if kubeconfig else ClusterRef()
        return App(app_name(k.namespace, k.name), (AppSource(located, Render(tool="flux", flux=options)),),
                   Destination(cluster, options.target_namespace),
                   tracking=Tracking(labels={OWNER_NAME: k.name, OWNER_NAMESPACE: k.namespace}),
                   defined_by=_declared_by(item))

    def _children(self, item: _Declared, app: App, resources: list[Resource],
                  queue: deque[_Declared]) -> None:
        for res in resources:
            group, kind, body = res.key.group, res.key.kind, res.body
            where = f"{res.origin.file}:{res.origin.line}" if res.origin.line else res.origin.file
            try:
                if group == SOURCE_GROUP:
                    if kind == "GitRepository":
                        git_repository(body, res.key.namespace)  # a malformed one is an error here
                    self.artifacts.declare(kind, body, res.key.namespace, where)
                elif group == KUSTOMIZE_GROUP and kind == "Kustomization":
                    self._child(item, app, kustomization(body, res.key.namespace), res, queue)
                elif is_generator(body):
                    self.artifacts.declare_generator(artifact_generator(body, res.key.namespace, where))
                elif group == HELM_GROUP and kind == "HelmRelease":  # an app of flux.helm_apps
                    check_version(body)
            except FluxObjectError as e:
                self.graph.errors.append(RunError(f"{e} (rendered by {app.name})", app=app.name,
                                                  file=res.origin.file, line=res.origin.line,
                                                  resource=str(res.key), stage="source"))

    def _child(self, item: _Declared, app: App, child: Kustomization, res: Resource,
               queue: deque[_Declared]) -> None:
        if child.id == item.kustomization.id:
            return  # a Kustomization that renders itself (bootstrap): compared as its own resource
        name = app_name(*child.id)
        if child.id in item.chain:
            path = " → ".join(app_name(*i) for i in (*item.chain[item.chain.index(child.id):], child.id))
            self.graph.errors.append(RunError(
                f"Flux Kustomization cycle: {app.name} renders Kustomization {name}, which is its own "
                f"ancestor ({path}); {name} is compared as a resource of {app.name} but not built again",
                app=app.name, file=res.origin.file, line=res.origin.line, stage="source"))
        elif child.id in self.known:
            self.graph.errors.append(RunError(
                f"Kustomization {name} is rendered by {app.name} and by "
                f"{self.known[child.id] or 'the root'}: built once", app=app.name, file=res.origin.file,
                line=res.origin.line, stage="source", severity="warning"))
        elif len(item.chain) >= MAX_DEPTH:
            self.graph.errors.append(RunError(f"Flux Kustomizations deeper than {MAX_DEPTH} levels at "
                                              f"{app.name}: {name} is not built", app=app.name,
                                              stage="source"))
        else:
            self.known[child.id] = app.name
            chain = (*item.chain, child.id)
            queue.append(_Declared(child, res.origin.file, res.origin.line, app.name, chain))

    def _failed(self, item: _Declared, message: str) -> None:
        """A Kustomization that cannot be built: an app with that error, so it is reported with the rest."""
        k = item.kustomization
        source = AppSource(GitSource(path=k.path.removeprefix("./")), Render(tool="flux"))
        app = App(app_name(*k.id), (source,),
                  Destination(namespace=str(k.spec.get("targetNamespace") or "")),
                  tracking=Tracking(labels={OWNER_NAME: k.name, OWNER_NAMESPACE: k.namespace}),
                  defined_by=_declared_by(item))
        self.graph.apps.append(app)
        self.graph.rendered[app.name] = Rendered(app, errors=[RunError(
            message, app=app.name, file=item.file, line=item.line, stage="source")])


def build_graph(trees: SourceTrees, flux_path: str, repo_urls: set[str], strict: bool = True,
                timeout: float = 120.0, variables: ClusterVariables | None = None) -> FluxGraph:
    """The apps of the Flux root at flux_path (a cluster directory of the audited commit); variables:
    the run's cluster, where substituteFrom objects are read (None: not read)."""
    root = find_root(trees.run_tree, flux_path)
    walk = _Walk(trees, repo_urls, strict, timeout, variables)
    walk.graph.errors += root.errors
    for kind, body, where in root.sources:
        walk.artifacts.declare(kind, body, BOOTSTRAP_NAMESPACE, where)
    k = root.kustomization
    ref = (k.source.kind, k.source.namespace, k.source.name)
    declared = walk.artifacts.declared.get(ref)
    url = str(mapping_of(declared[0].get("spec")).get("url") or "") if declared else ""
    if declared is None and not root.file:  # made from --flux: this repository
        walk.artifacts.declare(k.source.kind, {"apiVersion": f"{SOURCE_GROUP}/v1", "kind": k.source.kind,
                                               "metadata": {"name": k.source.name,
                                                            "namespace": k.source.namespace}}, "", "--flux")
    elif k.source.kind == "GitRepository" and url and normalize_repo_url(url) not in walk.this_repo:
        walk.this_repo.add(normalize_repo_url(url))
        walk.graph.notes.append(f"taking the root's GitRepository URL {mask_url(url)} as this repository "
                                "(give --repo-url to name it)")
    graph = walk.run(_Declared(k, root.file, root.line, "", (k.id,)))
    graph.this_repo = set(walk.this_repo)
    return graph


def _declared_by(item: _Declared) -> DefinedBy:
    """Where the Kustomization object was rendered; a root made from --flux alone is the command line's."""
    if not item.file:
        return DefinedBy("cli")
    return DefinedBy("flux-kustomization", item.file, item.line, parent=item.parent)


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str) else None


def _strings(value: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in value.items()} if isinstance(value, dict) else {}
