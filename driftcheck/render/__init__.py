"""Rendering one app at one revision into desired objects: the renderer registry, and keying.

The tool follows from what the app's path holds, as ArgoCD decides it: a kustomization file means
Kustomize, a Chart.yaml means Helm, anything else is a directory of manifests. Every renderer returns
documents with their origins; keying them, and refusing what Kubernetes could not hold, happens here,
once for all tools.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git

from driftcheck import kube
from driftcheck.fetch.sources import SourceError, SourceTrees
from driftcheck.fetch.tree import Tree
from driftcheck.model import (
    App,
    AppSource,
    DriftcheckError,
    GitSource,
    Origin,
    Render,
    Resource,
    ResourceKey,
    RunError,
)
from driftcheck.render import directory, helm, kustomize
from driftcheck.render.detect import source_type
from driftcheck.render.hooks import RenderedHook, hook_name, hook_of
from driftcheck.render.kinds import key_of
from driftcheck.render.renderer import Capabilities, Output, Renderer, Target


def _flux(tree: Tree, path: str, options: Render, target: Target, timeout: float) -> Output:
    """A Flux Kustomization (flux/build.py; imported when used: it builds on render's own modules)."""
    from driftcheck.flux.build import render

    return render(tree, path, options, target, timeout)


def _flux_helm(tree: Tree, path: str, options: Render, target: Target, timeout: float) -> Output:
    """A Flux HelmRelease (flux/helm_render.py; imported when used, as _flux)."""
    from driftcheck.flux.helm_render import render

    return render(tree, path, options, target, timeout)


RENDERERS: dict[str, Renderer] = {
    "directory": directory.render,
    "kustomize": kustomize.render,
    "helm": helm.render,
    "flux": _flux,
    "flux-helm": _flux_helm,
}


@dataclass
class Rendered:
    """What one app renders to at one revision, and what went wrong doing it."""

    app: App
    resources: list[Resource] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)  # repository paths the render depends on
    skipped_documents: int = 0  # YAML documents without apiVersion/kind (not Kubernetes objects)
    renderer: str = ""  # a key of RENDERERS
    hooks: list[RenderedHook] = field(default_factory=list)  # ArgoCD sync hooks: listed, not compared
    notes: list[str] = field(default_factory=list)  # what the sources resolved to (versions, dependencies)
    _index: dict[ResourceKey, Resource] = field(default_factory=dict, repr=False)


CapabilitiesOf = Capabilities | Callable[[], Capabilities | None] | None


def render_app(sources: SourceTrees | Tree, app: App, timeout: float = 120,
               capabilities: CapabilitiesOf = None) -> Rendered:
    """Desired objects of every source of app, in `sources` order (a later source's object replaces an
    earlier one's, as in ArgoCD); errors carry the app's name and never raise. sources may be a bare
    tree: the run's commit, for apps that only use this repository. capabilities may be a callable,
    called only for a source Helm renders (reading them costs requests a run without charts never makes)."""
    trees = sources if isinstance(sources, SourceTrees) else SourceTrees(sources)
    out = Rendered(app)
    with contextlib.ExitStack() as exports:
        refs = _ref_roots(trees, app, out, exports)
        for source in app.sources:
            if source.renders:
                _render_source(trees, app, source, refs, out, timeout, capabilities)
    for err in out.errors:
        err.app = err.app or app.name
        err.stage = err.stage or "render"
    return out


def _render_source(trees: SourceTrees, app: App, source: AppSource, refs: dict[str, Path], out: Rendered,
                   timeout: float, capabilities: CapabilitiesOf) -> None:
    """One source's objects into out."""
    try:
        located = trees.locate(source.source)
    except SourceError as e:
        release = source.render.helm_release  # a Flux HelmRelease's chart: the error names the release
        shown = f"HelmRelease {release.namespace}/{release.name} (declared at {app.defined_by}): " \
            if release else ""
        out.errors.append(RunError(f"{shown}{e}", app=app.name, file=str(app.defined_by), stage="source"))
        return
    tree, path = located.tree, _norm(located.path)
    if not tree.exists(path):
        where = f"commit {tree.sha[:12]}" if located.tree is trees.run_tree else located.shown
        out.errors.append(RunError(f"path {path or '.'} does not exist at {where}",
                                   app=app.name, file=path, stage="render"))
        return
    options = source.render
    renderer, refused = source_type(tree, path, options, app.defined_by.kind == "argocd-application")
    if refused:
        out.errors.append(RunError(refused, app=app.name, file=path, stage="render"))
        return
    out.renderer = f"{out.renderer}+{renderer}" if out.renderer else renderer
    if callable(capabilities):
        capabilities = capabilities() if renderer in ("helm", "flux-helm") else None
    target = Target(app.name, app.namespace, str(app.defined_by), refs=refs if _multi_source(app) else None,
                    capabilities=capabilities, offline=trees.fetch.offline, charts=trees.chart)
    output = RENDERERS[renderer](tree, path, options, target, timeout)
    out.errors += output.errors
    out.notes += output.notes
    if tree is trees.run_tree:  # history follows this repository's files
        out.files_read += output.files_read
    for document in output.documents:
        _add_object(out, document.body, document.origin)


def plain_yaml(trees: SourceTrees, apps: list[App]) -> dict[str, list[bytes]]:
    """Per app, the YAML files its plain-directory source in the audited commit reads (what parse_ahead
    parses while the apps are rendered); what cannot be read here is left to the render to report."""
    tree, out = trees.run_tree, dict[str, list[bytes]]()
    for app in apps:
        for file in directory_files(tree, app) or []:
            if file.endswith((".yaml", ".yml")) and tree.symlink_target(file) is None:
                try:
                    out.setdefault(app.name, []).append(tree.read(file))
                except (DriftcheckError, git.GitError, OSError, ValueError):
                    continue
    return out


def directory_files(tree: Tree, app: App) -> list[str] | None:
    """The files the app's source in this repository reads when it is a plain directory at tree (the
    audited commit), in reading order; None when it is not one (another tool, absent, elsewhere)."""
    source = app.local_source
    if source is None or not isinstance(source.source, GitSource):
        return None
    path = _norm(source.source.path)
    if not tree.exists(path) or source_type(
            tree, path, source.render, app.defined_by.kind == "argocd-application") != ("directory", ""):
        return None
    return directory.manifest_files(tree, path, source.render)


def _multi_source(app: App) -> bool:
    """ArgoCD reads `$name/…` value files as refs only in an app with spec.sources."""
    return len(app.sources) > 1 or any(s.ref for s in app.sources)


def _ref_roots(trees: SourceTrees, app: App, out: Rendered, exports: contextlib.ExitStack) -> dict[str, Path]:
    """The repository root on disk of each `ref` source, for `$ref/…` value files."""
    roots: dict[str, Path] = {}
    for source in app.sources:
        if not source.ref or not isinstance(source.source, GitSource):
            continue  # ArgoCD refuses `$ref` files from a chart source when they are used
        try:
            located = trees.locate(source.source)
        except SourceError as e:
            out.errors.append(RunError(str(e), app=app.name, file=str(app.defined_by), stage="source"))
            continue
        root, errors = exports.enter_context(located.tree.exported())
        out.errors += errors
        roots[source.ref] = root
    return roots


def _add_object(out: Rendered, body: dict[str, Any], origin: Origin) -> None:
    """Key one rendered body into out. Bodies without apiVersion/kind (not Kubernetes objects) and
    generateName objects are counted as skipped; nameless objects and names or namespaces Kubernetes would
    refuse are errors; a duplicate replaces the earlier object, with a warning."""
    if not body.get("apiVersion") or not body.get("kind"):
        out.skipped_documents += 1
        return
    hook = hook_of(body)
    if hook is not None:  # ArgoCD neither compares nor applies it as an object: listed as a hook
        out.hooks.append(RenderedHook(hook_name(body), hook, origin))
        return
    meta: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
    if not meta.get("name"):
        if meta.get("generateName"):  # a new object each sync (hooks, Jobs): no identity to compare
            out.skipped_documents += 1
        else:
            out.errors.append(RunError(f"{body['kind']} without metadata.name", app=out.app.name,
                                       file=origin.file, line=origin.line))
        return
    key = key_of(body, out.app.namespace)
    problem = _invalid_identity(body, key)
    if problem:
        out.errors.append(RunError(f"{body['kind']} {str(meta['name'])!r:.80}: {problem}; not compared",
                                   app=out.app.name, file=origin.file, line=origin.line))
        return
    resource = Resource(key, str(body["apiVersion"]), body, origin)
    other = out._index.get(key)
    out._index[key] = resource
    if other is None:
        out.resources.append(resource)
        return
    # ArgoCD applies the last one (RepeatedResourceWarning); it takes the first one's place in the list
    out.resources[next(i for i, r in enumerate(out.resources) if r is other)] = resource
    out.errors.append(RunError(
        f"{key} is defined twice (first at {other.origin.file}:{other.origin.line}); this later one is "
        "used, as ArgoCD applies the last", app=out.app.name, file=origin.file, line=origin.line,
        resource=str(key), severity="warning"))


def _invalid_identity(body: dict[str, Any], key: ResourceKey) -> str | None:
    """Why the object's name or namespace is one Kubernetes could never hold (such a value would end up
    in API request paths), else None."""
    reason = kube.invalid_name(key.kind, key.name)
    if reason:
        return f"metadata.name {reason}"
    if key.namespace:
        reason = kube.invalid_namespace(key.namespace)
        own = isinstance(body.get("metadata"), dict) and body["metadata"].get("namespace")
        return f"{'metadata.namespace' if own else 'the destination namespace'} {reason}" if reason else None
    return None


def _norm(path: str) -> str:
    p = posixpath.normpath(path.strip()) if path.strip() else ""
    return "" if p in (".", "/") else p.strip("/")
