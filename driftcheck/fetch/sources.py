"""Where each source of an app comes from: the audited commit, another Git repository, or a fetched chart.

A run holds one `SourceTrees`. It hands every `AppSource` its `Tree` and the path inside it, fetching each
distinct repository or chart once (through the shared cache), so fifty apps on one chart download it
once. Nothing is fetched until an app needs it: a run over plain directories never touches the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from driftcheck.commands.options import FetchOptions
from driftcheck.fetch.git import default_cache_dir
from driftcheck.fetch.tree import Tree
from driftcheck.model import ChartSource, DriftcheckError, GitSource, OciSource, Source
from driftcheck.scrub import mask_url

if TYPE_CHECKING:
    from driftcheck.fetch.charts import ChartFetcher, FetchedChart
    from driftcheck.fetch.oci_artifact import OciArtifacts
    from driftcheck.fetch.remote_git import GitRepositories
    from driftcheck.fetch.repo_credentials import RepoCredentials


class SourceError(DriftcheckError):
    """A source that cannot be had (unreachable, unknown revision, not in the cache when offline)."""


@dataclass(frozen=True)
class Located:
    """One source on hand: the tree, the app's path in it, and what was resolved, for the report."""

    tree: Tree
    path: str
    revision: str  # the commit or chart version rendered
    shown: str  # "chart sealed-secrets 2.16.2 from https://…", "https://…/repo.git at 1a2b3c4d5e6f"


class SourceTrees:
    """Every source's tree for one run: the run's own commit for this repository, the cache for the rest."""

    def __init__(self, run_tree: Tree, fetch: FetchOptions | None = None, at: datetime | None = None,
                 live_credentials: RepoCredentials | None = None) -> None:
        self.run_tree = run_tree
        self.fetch = fetch or FetchOptions()
        self.at = at
        self.live_credentials = live_credentials  # ArgoCD's namespace's Secrets; --repo-creds replaces them
        self._charts: ChartFetcher | None = None
        self._git: GitRepositories | None = None
        self._oci: OciArtifacts | None = None
        self._located: dict[Source, Located | SourceError] = {}

    @staticmethod
    def is_run_repo(source: GitSource) -> bool:
        """Whether source means the audited repository (rendered at the run's commit, not its own): the
        apps layer gives its sources no URL (`apps.argocd.app_sources`)."""
        return not source.url

    def locate(self, source: Source) -> Located:
        """The tree and path of source, fetched once per run; SourceError naming the URL otherwise."""
        if isinstance(source, GitSource) and self.is_run_repo(source):
            return Located(self.run_tree, source.path, self.run_tree.sha, "this repository")
        if source not in self._located:
            try:
                self._located[source] = self._fetch(source)
            except SourceError as e:
                self._located[source] = e
        found = self._located[source]
        if isinstance(found, SourceError):
            raise found
        return found

    def chart(self, repository: str, chart: str, version: str) -> FetchedChart:
        """A chart (a dependency's, or a source's) through the run's one fetcher: FetchError naming the
        chart, version and repository when it cannot be had."""
        return self._chart_fetcher().fetch(repository, chart, version)

    def oci_artifacts(self) -> OciArtifacts:
        """The run's one puller of OCI artifacts (Flux OCIRepositories), through the shared cache."""
        if self._oci is None:
            from driftcheck.fetch.cache import Cache
            from driftcheck.fetch.oci_artifact import OciArtifacts

            self._oci = OciArtifacts(Cache(self._cache_root()), self._credentials(),
                                     offline=self.fetch.offline, timeout=self.fetch.timeout)
        return self._oci

    def _fetch(self, source: Source) -> Located:
        if isinstance(source, ChartSource):
            from driftcheck.fetch.charts import FetchError
            from driftcheck.fetch.dirtree import DirTree

            try:
                fetched = self.chart(source.repository, source.chart, source.version)
            except FetchError as e:
                raise SourceError(str(e)) from None
            return Located(DirTree(fetched.root, fetched.digest), "", fetched.version,
                           f"chart {fetched.name} {fetched.version} from {mask_url(fetched.repository)}")
        if isinstance(source, OciSource):
            raise SourceError(f"OCI artifact source {mask_url(source.url)}: manifests packed as OCI "
                              "artifacts are not fetched yet")
        return self._git_tree(source)

    def _git_tree(self, source: GitSource) -> Located:
        from driftcheck.model import DriftcheckError as Failed

        revision = source.revision or "HEAD"
        try:
            tree = self._repositories().tree(source.url, revision, self.at, prefix=source.tag_prefix)
        except Failed as e:
            raise SourceError(str(e)) from None
        return Located(tree, source.path, tree.sha, f"{mask_url(source.url)} at {tree.sha[:12]}")

    def _chart_fetcher(self) -> ChartFetcher:
        if self._charts is None:
            from driftcheck.fetch.cache import Cache
            from driftcheck.fetch.charts import ChartFetcher

            self._charts = ChartFetcher(Cache(self._cache_root()), self._credentials(),
                                        offline=self.fetch.offline, timeout=self.fetch.timeout,
                                        mirrors=self.fetch.mirrors)
        return self._charts

    def _repositories(self) -> GitRepositories:
        if self._git is None:
            from driftcheck.fetch.remote_git import GitRepositories

            self._git = GitRepositories(self._cache_root(), self._credentials(), offline=self.fetch.offline,
                                        timeout=self.fetch.timeout, mirrors=self.fetch.mirrors)
        return self._git

    def _cache_root(self) -> Path:
        return self.fetch.cache_dir or default_cache_dir().parent

    def _credentials(self) -> RepoCredentials:
        from driftcheck.fetch.repo_credentials import NO_CREDENTIALS, load_repo_credentials

        path = self.fetch.repo_credentials
        if path:
            return load_repo_credentials(path)
        return self.live_credentials or NO_CREDENTIALS
