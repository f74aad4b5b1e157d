"""What a renderer is: the call every tool's renderer answers, and the Output it returns.

A renderer turns the files of a Tree into documents with their origins; it neither keys nor
de-duplicates them (`render.render_app` does, the same way for every tool).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from driftcheck.fetch.tree import Tree
from driftcheck.model import Origin, Render, RunError

if TYPE_CHECKING:
    from driftcheck.fetch.charts import FetchedChart


@dataclass(frozen=True)
class Capabilities:
    """The destination cluster as Helm's .Capabilities sees it: ArgoCD passes the cluster's server version
    and its API resources (`group/version` and `group/version/Kind`, sorted) to every render."""

    kube_version: str = ""  # "v1.29.3", as discovery or the snapshot header gives it
    api_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """Whom a render is for: the app (release name, errors), its destination namespace (Helm's
    .Release.Namespace) and where it was declared (errors in its render options point there)."""

    app: str
    namespace: str = ""
    declared_at: str = ""  # "argocd/web.yaml:4", "driftcheck.yaml", "cli"
    # exported repository root of each `ref` source by name, for `$name/…` value files; None for a
    # single-source app (ArgoCD then reads `$name/x` as a path, `$name` substituted away)
    refs: Mapping[str, Path] | None = None
    capabilities: Capabilities | None = None  # None: unknown, the renderer's defaults
    offline: bool = False  # nothing is downloaded (remote values files are then errors)
    env: Mapping[str, str] = field(default_factory=dict)  # ArgoCD build env beyond what the render knows
    # fetches a chart (repository, name, version) for a missing dependency; None: dependencies must be
    # vendored (a render with nothing to fetch through)
    charts: Callable[[str, str, str], FetchedChart] | None = None


@dataclass(frozen=True)
class Document:
    """One rendered YAML document and where it came from."""

    body: dict[str, Any]
    origin: Origin


@dataclass
class Output:
    """What one renderer produced, in the order it produced it."""

    documents: list[Document] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)  # repository paths the render depends on
    errors: list[RunError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was resolved ("grafana ^8.5 resolved to 8.5.2")


class Renderer(Protocol):
    """Render path of tree with the app source's options, a child process bounded by timeout seconds."""

    def __call__(self, tree: Tree, path: str, options: Render, target: Target, timeout: float) -> Output: ...
