"""App-of-apps: the Applications and ApplicationSets an app renders become apps in their turn.

Each Application is known by where its object lives, (cluster, namespace, name): a child's cluster is its
parent's destination, its namespace the one the render gave it. A child already known is not rendered
again: a self-managed root (it renders its own Application) and a child two parents declare are warnings
(ArgoCD calls the second a SharedResourceWarning); a child that is one of its own ancestors is a cycle,
an error naming both apps and the file. The child Application objects stay resources of their parent, so
a child edited live is the parent's drift. Nothing here renders: the run renders each app it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from driftcheck.apps.appset import expand_appsets
from driftcheck.apps.appset.context import Cluster
from driftcheck.apps.argocd import apps_from_argocd
from driftcheck.apps.source_overrides import with_source_overrides
from driftcheck.apps.urls import Document, normalize_repo_url
from driftcheck.fetch.tree import Tree
from driftcheck.model import App, ClusterRef, Resource, RunError, SkippedApp

IN_CLUSTER = "in-cluster"
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
CONTROL_NAMESPACE = "argocd"  # where an Application without metadata.namespace is applied, by convention
MAX_DEPTH = 10
Key = tuple[str, str, str]  # (cluster, namespace, name) of an Application object


def cluster_of(ref: ClusterRef) -> str:
    """The cluster a destination names, as a key: ArgoCD's local cluster is one key however written."""
    server = ref.server.rstrip("/")
    if ref.name in ("", IN_CLUSTER) and server in ("", IN_CLUSTER_SERVER):
        return IN_CLUSTER
    return server or ref.name


@dataclass
class Children:
    """What one parent's render declared: new apps, and what was not made an app (with why)."""

    apps: list[App] = field(default_factory=list)
    skipped: list[SkippedApp] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)


class Found(Protocol):
    """What a run found so far (apps.FoundApps): the children are added to it."""

    apps: list[App]
    skipped: list[SkippedApp]
    repo_urls: set[str]
    namespaces: dict[str, str]
    clusters: list[Cluster]


class AppFamily:
    """Every Application the run knows, by key, with each app's ancestry; `children` extends it."""

    @classmethod
    def of(cls, found: Found, tree: Tree) -> AppFamily:
        return cls(found.apps, tree, found.repo_urls, found.namespaces, found.clusters)

    def adopt(self, parent: App, resources: Iterable[Resource], found: Found,
              capabilities: Any) -> list[RunError]:
        """parent's children added to found's apps (rendered later, with parent's capabilities: see
        `capabilities`) and skips; returns the errors and warnings."""
        children = self.children(parent, resources)
        found.apps += children.apps
        found.skipped += children.skipped
        self._inherited.update((child.name, capabilities) for child in children.apps)
        return children.errors

    def capabilities(self, app: App, own: Any) -> Any:
        """The app's own destination capabilities, else (a child the plan did not know) its parent's."""
        return own or self._inherited.get(app.name)

    def __init__(self, roots: Iterable[App], tree: Tree, repo_urls: set[str],
                 namespaces: Mapping[str, str] | None = None, clusters: Sequence[Cluster] = ()) -> None:
        self._tree, self._urls, self._clusters = tree, repo_urls, clusters
        self._this_repo = {normalize_repo_url(u) for u in repo_urls}
        self._where: dict[Key, str] = {}  # key -> the app that declared it ("" for a root) and where
        self._names: dict[str, Key] = {}
        self._chain: dict[str, tuple[Key, ...]] = {}  # app name -> its ancestors' keys and its own
        self._inherited: dict[str, Any] = {}  # child -> its parent's capabilities
        for app in roots:
            key = (IN_CLUSTER, (namespaces or {}).get(app.name) or CONTROL_NAMESPACE, app.name)
            self._where.setdefault(key, str(app.defined_by))
            self._names.setdefault(app.name, key)
            self._chain.setdefault(app.name, (key,))

    def children(self, parent: App, resources: Iterable[Resource]) -> Children:
        """The apps parent's rendered Applications (and ApplicationSets' Applications) declare."""
        out = Children()
        chain = self._chain.get(parent.name) or ((IN_CLUSTER, CONTROL_NAMESPACE, parent.name),)
        cluster = cluster_of(parent.destination.cluster)
        candidates: list[Document] = []
        for res, body in _declared(resources):
            name = str(body["metadata"].get("name") or "")
            key = (cluster, str(body["metadata"].get("namespace") or res.key.namespace or CONTROL_NAMESPACE),
                   name)
            where = f"{res.origin.file}:{res.origin.line}" if res.origin.line else res.origin.file
            problem = self._problem(parent, chain, key, where)
            if problem is not None:
                if isinstance(problem, RunError):
                    out.errors.append(replace(problem, file=res.origin.file, line=res.origin.line))
                else:
                    out.skipped.append(problem)
                continue
            self._where[key] = f"{parent.name} at {where}"
            self._names[name] = key
            self._chain[name] = (*chain, key)
            candidates.append((body, res.origin.file, res.origin.line))
        expanded = expand_appsets(candidates, self._tree, self._is_this_repo, configured=self._clusters)
        out.errors += expanded.errors
        out.skipped += expanded.skipped
        documents, broken = with_source_overrides(self._tree, expanded.documents, self._this_repo)
        out.errors += broken
        apps, skipped = apps_from_argocd(documents, self._urls, expanded.generators)
        out.skipped += skipped
        for app in apps:
            if app.name not in self._chain:  # generated by an ApplicationSet this parent rendered
                self._chain[app.name] = (*chain, (cluster, CONTROL_NAMESPACE, app.name))
                self._names[app.name] = self._chain[app.name][-1]
            out.apps.append(replace(app, defined_by=replace(app.defined_by, parent=parent.name)))
        return out

    def _problem(self, parent: App, chain: tuple[Key, ...], key: Key,
                 where: str) -> RunError | SkippedApp | None:
        """Why the Application at key is not rendered as parent's child, or None when it is new."""
        name = key[2]
        if key == chain[-1]:
            return RunError(f"{parent.name} renders its own Application (self-managed): compared as "
                            "its resource, not rendered again", app=parent.name, stage="source",
                            severity="warning")
        if key in chain:
            path = " → ".join([k[2] for k in chain[chain.index(key):]] + [name])
            return RunError(f"app-of-apps cycle: {parent.name} declares Application {name} ({key[1]}), which "
                            f"is its own ancestor ({path}); {name} is compared as a resource of "
                            f"{parent.name} but not rendered again", app=parent.name, stage="source")
        if len(chain) >= MAX_DEPTH:
            return RunError(f"app-of-apps deeper than {MAX_DEPTH} levels at {parent.name}: {name} is not "
                            "rendered", app=parent.name, stage="source")
        if key in self._where:
            return RunError(f"Application {name} ({key[1]}) is declared by {parent.name} and by "
                            f"{self._where[key] or 'the run'}: rendered once (ArgoCD: SharedResourceWarning)",
                            app=parent.name, stage="source", severity="warning")
        if name in self._names:
            known = self._where[self._names[name]]
            return SkippedApp(name, f"an app named {name} is already declared ({known})", where)
        return None

    def _is_this_repo(self, url: str) -> bool:
        return normalize_repo_url(url) in self._this_repo


def _declared(resources: Iterable[Resource]) -> Iterator[tuple[Resource, dict[str, Any]]]:
    """The rendered Application and ApplicationSet objects (with a name) and their bodies."""
    for res in resources:
        if res.key.group == "argoproj.io" and res.key.kind in ("Application", "ApplicationSet") \
                and isinstance(res.body.get("metadata"), dict) and res.body["metadata"].get("name"):
            yield res, res.body
