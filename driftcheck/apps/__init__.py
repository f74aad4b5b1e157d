"""Which apps a run checks: --path options, driftcheck.yaml, and ArgoCD Applications, as `App`s.

Declarations are read from the tree at the run's commit; nothing here fetches or renders.

Precedence: apps named on the command line (--path, --argocd-apps) replace the config's; without
them the config's apps and its argocdApps glob are used. --app then narrows the list by name.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from driftcheck.apps.appset import SECRET_TYPE, expand_appsets
from driftcheck.apps.appset.context import Cluster
from driftcheck.apps.argocd import apps_from_argocd, find_application_documents
from driftcheck.apps.config import Config, load_config, parse_config
from driftcheck.apps.flux_apps import add_flux_apps
from driftcheck.apps.source_overrides import with_source_overrides
from driftcheck.apps.urls import Document, infer_repo_urls, normalize_repo_url
from driftcheck.commands.options import FetchOptions
from driftcheck.fetch.git import is_remote, remote_urls
from driftcheck.fetch.moments import parse_moment
from driftcheck.fetch.tree import CommitTree
from driftcheck.flux.variables import ClusterVariables
from driftcheck.model import (
    App,
    AppSource,
    DefinedBy,
    Destination,
    DirectoryOptions,
    DriftcheckError,
    GitSource,
    Render,
    RunError,
    SkippedApp,
)

CONFIG_NAME = "driftcheck.yaml"


class AppOptions(Protocol):
    """The command-line choices find_apps reads (AuditOptions and the render command have them)."""

    repo: str
    paths: list[str]
    namespace: str
    recurse: bool
    app_names: list[str]
    config_file: Path | None
    argocd_apps: str | None
    repo_urls: list[str]
    flux: str | None
    flux_strict_substitution: bool
    render_timeout: float
    fetch: FetchOptions
    at: str | None


@dataclass
class FoundApps:
    apps: list[App] = field(default_factory=list)
    skipped: list[SkippedApp] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. how "this repository" was recognised
    config: Config = field(default_factory=Config)
    rule_packs: list[str] = field(default_factory=list)  # from the config (the CLI's --rule-pack wins)
    rule_sources: list[tuple[str, bytes]] = field(default_factory=list)  # (path, content): config rule files
    gitops_managers: list[str] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)  # cluster Secrets with the Applications, config's
    repo_urls: set[str] = field(default_factory=set)  # the URLs that mean this repository (app-of-apps too)
    namespaces: dict[str, str] = field(default_factory=dict)  # app -> its Application's metadata.namespace
    live: Any = None  # apps.live_apps.LiveArgocd: what --argocd-namespace read from ArgoCD's namespace
    rendered: dict[str, object] = field(default_factory=dict)  # app -> render.Rendered, built when found


def find_apps(tree: CommitTree, options: AppOptions, live: list[Document] | None = None,
              live_clusters: Sequence[Cluster] = (),
              flux_variables: ClusterVariables | None = None) -> FoundApps:
    """The apps to check at this commit; DriftcheckError when there are none or --app names an unknown.
    live: the Applications the cluster holds (--argocd-namespace), after any the glob finds in Git;
    live_clusters: its cluster Secrets, after Git's and before driftcheck.yaml's clusters;
    flux_variables: the run's cluster, where --flux reads substituteFrom objects (None: not read)."""
    found = FoundApps()
    found.config = cfg = _config(tree, options)
    found.rule_packs = list(cfg.rule_packs)
    found.gitops_managers = list(cfg.gitops_managers)
    found.rule_sources = _rule_sources(tree, cfg, found.errors)
    cli_chosen = bool(options.paths or options.argocd_apps or live is not None or options.flux)
    found.apps = path_apps(options.paths, options.namespace, options.recurse) if cli_chosen \
        else list(cfg.apps)
    glob = options.argocd_apps if cli_chosen else cfg.argocd_apps
    known = remote_urls(tree.repo) | set(options.repo_urls) | set(cfg.repo_urls)
    if is_remote(options.repo):
        known.add(without_userinfo(options.repo))
    found.repo_urls = known
    if glob or live is not None:
        documents, errors = find_application_documents(tree, glob) if glob else ([], [])
        documents += live or []
        found.errors += errors
        urls, note = infer_repo_urls(documents, known)
        if note:
            found.notes.append(note)
        found.repo_urls = urls
        found.namespaces = {str(b["metadata"].get("name")): str(b["metadata"].get("namespace") or "")
                            for b, _, _ in documents if isinstance(b.get("metadata"), dict)}
        this_repo = {normalize_repo_url(u) for u in urls}
        expanded = expand_appsets(documents, tree, lambda url: normalize_repo_url(url) in this_repo,
                                  configured=[*live_clusters, *configured_clusters(cfg)])
        found.errors += expanded.errors
        found.clusters = expanded.clusters
        documents, broken = with_source_overrides(tree, expanded.documents, this_repo)
        found.errors += broken
        apps, found.skipped = apps_from_argocd(documents, urls, expanded.generators)
        found.skipped += expanded.skipped
        taken = {a.name for a in found.apps}
        for app in apps:
            if app.name in taken:
                found.skipped.append(SkippedApp(app.name, "an app of that name is already configured",
                                                str(app.defined_by)))
            else:
                found.apps.append(app)
    add_flux_apps(found, tree, options, parse_moment(options.at) if options.at else None, flux_variables)
    found.clusters = found.clusters or configured_clusters(cfg)
    if options.app_names:
        by_name = {a.name: a for a in found.apps}
        unknown = [n for n in options.app_names if n not in by_name]
        if unknown:
            raise DriftcheckError(f"--app {', '.join(unknown)}: no such app (known: "
                                  f"{', '.join(sorted(by_name)) or 'none'}; an Application another app "
                                  "renders is known only when its parent renders: give the parent)")
        found.apps = [by_name[n] for n in options.app_names]
    if not found.apps:
        why = "; ".join(str(e) for e in found.errors[:3])  # e.g. the Application file that did not parse
        skipped = f" ({len(found.skipped)} Applications skipped)" if found.skipped else ""
        raise DriftcheckError("no apps to check: give --path, --argocd-apps GLOB, --flux PATH, or a "
                              "driftcheck.yaml with apps:" + skipped + (f" ({why})" if why else ""))
    return found


def configured_clusters(cfg: Config) -> list[Cluster]:
    """driftcheck.yaml's clusters as the clusters generator and destinations see a cluster Secret."""
    return [Cluster(c.name, c.server, labels={SECRET_TYPE: "cluster", **c.labels})
            for c in cfg.clusters if c.server]


def without_userinfo(url: str) -> str:
    """The URL as Applications write it: a user or token given with --repo is for the clone, not a
    spelling of the repository (and must not reach a note)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, parts.fragment))


def path_apps(paths: list[str], namespace: str, recurse: bool) -> list[App]:
    """One app per --path, named after the directory (or the whole path when two share a name)."""
    names = [posixpath.basename(p.strip("/")) or p for p in paths]
    return [path_app(name if names.count(name) == 1 else p.strip("/"), p, namespace, recurse=recurse)
            for p, name in zip(paths, names, strict=True)]


def path_app(name: str, path: str, namespace: str = "", *, recurse: bool = False) -> App:
    """An app for a directory of this repository, as --path declares it."""
    return App(name, (AppSource(GitSource(path=path), Render(directory=DirectoryOptions(recurse=recurse))),),
               Destination(namespace=namespace), defined_by=DefinedBy("cli"))


def _config(tree: CommitTree, options: AppOptions) -> Config:
    """--config from disk, else driftcheck.yaml at the repository root at this commit, else empty."""
    if options.config_file is not None:
        return load_config(options.config_file)
    if tree.exists(CONFIG_NAME) and not tree.is_dir(CONFIG_NAME):
        return parse_config(tree.read(CONFIG_NAME).decode("utf-8", "replace"), CONFIG_NAME)
    return Config()


def _rule_sources(tree: CommitTree, cfg: Config, errors: list[RunError]) -> list[tuple[str, bytes]]:
    """The config's rule files: next to a config on disk, or in the repository for one read from Git."""
    out: list[tuple[str, bytes]] = []
    on_disk = bool(cfg.path) and cfg.path != CONFIG_NAME
    for name in cfg.rule_files:
        if on_disk:
            path = Path(cfg.path).parent / name
            try:
                out.append((str(path), path.read_bytes()))
            except OSError as e:
                errors.append(RunError(f"rule file {path}: {e.strerror or e}", file=cfg.path, stage="rules"))
        elif tree.exists(name) and not tree.is_dir(name):
            out.append((name, tree.read(name)))
        else:
            errors.append(RunError(f"rule file {name} does not exist at commit {tree.sha[:12]}",
                                   file=cfg.path, stage="rules"))
    return out
