"""Every Helm chart a run needs, from an HTTP(S) repository or an OCI registry, once, through the cache.

`ChartFetcher.fetch(repository, chart, version)` is the one call: a cached (repository, chart, version)
costs no network at all, even in a later run; a miss takes the key's cache lock, so two concurrent runs
download it once between them. The archive is checked against the index's digest before it enters the
cache, and unpacked once per digest (`archive.extract_chart`). `--offline` reads the cache alone.
Mirrors rewrite a URL prefix before anything is contacted; the cache and messages keep the URL the
Application names. Credentials are looked up for the URL actually contacted (a mirror's own).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from driftcheck.fetch import chart_http, chart_oci, semver
from driftcheck.fetch.archive import MAX_CHART_BYTES, MAX_CHART_FILES, ArchiveError, extract_chart
from driftcheck.fetch.cache import Cache, file_digest
from driftcheck.fetch.chart_http import ChartVersion, RepositoryError
from driftcheck.fetch.repo_credentials import RepoCredential, RepoCredentials
from driftcheck.model import DriftcheckError
from driftcheck.scrub import mask_url
from driftcheck.textsafe import for_terminal

_SHOWN_VERSIONS = 5  # an unknown version's message lists this many of the newest


@dataclass(frozen=True)
class FetchedChart:
    """A chart on disk: the archive in the cache and its unpacked directory (never to be edited)."""

    repository: str
    name: str
    version: str  # the resolved version
    digest: str  # sha256:<hex> of the archive
    archive: Path
    root: Path  # the chart directory, holding Chart.yaml


class FetchError(DriftcheckError):
    """A chart that cannot be had; the message names the chart, the version and the repository."""


def _listed(versions: list[str]) -> str:
    """The newest few versions, for a message ("2.1.0, 2.0.0 and 14 more")."""
    more = f" and {len(versions) - _SHOWN_VERSIONS} more" if len(versions) > _SHOWN_VERSIONS else ""
    return ", ".join(for_terminal(v) for v in versions[:_SHOWN_VERSIONS]) + more if versions else "none"


def mirrored(url: str, mirrors: Mapping[str, str]) -> str:
    """url with its longest matching mirror prefix replaced (an air-gapped install's own copies)."""
    matches = [prefix for prefix in mirrors if url.startswith(prefix)]
    if not matches:
        return url
    prefix = max(matches, key=len)
    return mirrors[prefix] + url[len(prefix):]


class ChartFetcher:
    """Fetches for one run: each (repository, chart, version) once, its failure remembered too."""

    def __init__(self, cache: Cache, credentials: RepoCredentials, *, offline: bool, timeout: float,
                 mirrors: Mapping[str, str] | None = None) -> None:
        self.cache = cache
        self.credentials = credentials
        self.offline = offline
        self.timeout = timeout
        self.mirrors = dict(mirrors or {})
        self._done: dict[tuple[str, str, str], FetchedChart | FetchError] = {}
        self._indexes: dict[str, dict[str, list[ChartVersion]]] = {}

    def fetch(self, repository: str, chart: str, version: str) -> FetchedChart:
        """The chart at version (exact, or a constraint resolved to the highest match); FetchError."""
        key = (repository.rstrip("/"), chart, version)
        if key not in self._done:
            try:
                self._done[key] = self._fetch(*key)
            except FetchError as e:
                self._done[key] = e
        done = self._done[key]
        if isinstance(done, FetchError):
            raise done
        return done

    def _fetch(self, repository: str, chart: str, version: str) -> FetchedChart:
        where = f"chart {for_terminal(chart)} version {for_terminal(version)} from {mask_url(repository)}"
        url = mirrored(repository, self.mirrors)
        credential = self.credentials.for_url(url, "helm")
        oci = chart_oci.is_oci_repository(url, credential)
        try:
            if semver.is_constraint(version):
                versions = self._versions(repository, url, chart, credential, oci, where)
                match = semver.best_match(version, versions)
                if match is None:
                    raise FetchError(f"{where}: no version matches (the repository has {_listed(versions)})")
                version, where = match, f"{where} (resolved to {for_terminal(match)})"
            ref_key = f"chart {repository} {chart} {version}"
            with self.cache.lock(ref_key):
                digest = self.cache.ref(ref_key)
                if digest is None:
                    if self.offline:
                        raise FetchError(f"{where}: not in the cache {self.cache.root} (--offline)")
                    if oci:
                        digest = self._pull_oci(url, chart, version, credential)
                    else:
                        digest = self._download(url, chart, version, credential, where)
                    self.cache.set_ref(ref_key, digest)
            return self._unpacked(repository, chart, version, digest)
        except (RepositoryError, ArchiveError, chart_oci.OciError) as e:
            raise FetchError(f"{where}: {e}") from None

    def _versions(self, repository: str, url: str, chart: str, credential: RepoCredential | None, oci: bool,
                  where: str) -> list[str]:
        """Every version of the chart, from the index or the registry's tags, kept in the cache so that
        --offline resolves a constraint against what the last online run saw."""
        key = f"versions {repository} {chart}"
        if self.offline:
            digest = self.cache.ref(key)
            blob = self.cache.blob(digest) if digest else None
            if blob is None:
                raise FetchError(f"{where}: no list of its versions in the cache {self.cache.root} to "
                                 "resolve the constraint against (--offline)")
            return [str(v) for v in json.loads(blob.read_text(encoding="utf-8"))]
        if oci:
            versions = chart_oci.oci_versions(url, chart, credential, self.timeout)
        else:
            versions = [entry.version for entry in self._entries(url, chart, credential, where)]
        with self.cache.scratch() as tmp:
            (Path(tmp) / "versions.json").write_text(json.dumps(versions), encoding="utf-8")
            self.cache.set_ref(key, self.cache.put(Path(tmp) / "versions.json"))
        return versions

    def _entries(self, url: str, chart: str, credential: RepoCredential | None, where: str
                 ) -> list[ChartVersion]:
        versions = self._index(url, credential).get(chart)
        if not versions:
            raise FetchError(f"{where}: the repository's index has no chart {for_terminal(chart)!r}")
        return versions

    def _index(self, url: str, credential: RepoCredential | None) -> dict[str, list[ChartVersion]]:
        """The repository's index, read once per run."""
        if url not in self._indexes:
            self._indexes[url], _ = chart_http.read_index(url, credential, self.timeout)
        return self._indexes[url]

    def _download(self, url: str, chart: str, version: str, credential: RepoCredential | None,
                  where: str) -> str:
        """Find version in the index, download its archive, check its digest, store it; its digest."""
        versions = self._entries(url, chart, credential, where)
        entry = next((v for v in versions if v.version == version), None)
        if entry is None:
            raise FetchError(f"{where}: no such version in the repository's index "
                             f"(it has {_listed([v.version for v in versions])})")
        archive_url = mirrored(chart_http.chart_url(url, entry), self.mirrors)
        with self.cache.scratch() as tmp:
            landing = Path(tmp) / "chart.tgz"
            chart_http.download(archive_url, landing, credential, self.timeout, max_bytes=MAX_CHART_BYTES,
                                send_credentials=chart_http.same_origin(archive_url, url))
            self.cache.downloads += 1
            actual = file_digest(landing)
            if entry.digest and actual != f"sha256:{entry.digest}":
                raise FetchError(f"{where}: the archive at {mask_url(archive_url)} has digest {actual}, but "
                                 f"the index says sha256:{for_terminal(entry.digest)}; refused")
            return self.cache.put(landing)

    def _pull_oci(self, url: str, chart: str, version: str, credential: RepoCredential | None) -> str:
        with self.cache.scratch() as tmp:
            archive = chart_oci.pull_oci_chart(url, chart, version, Path(tmp), credential, self.timeout)
            self.cache.downloads += 1
            return self.cache.put(archive)

    def _unpacked(self, repository: str, chart: str, version: str, digest: str) -> FetchedChart:
        """The archive unpacked once per digest: into scratch, then renamed into place whole."""
        archive = self.cache.blob(digest)
        if archive is None:
            raise FetchError(f"chart {chart} version {version} from {mask_url(repository)}: "
                             f"cache blob {digest} is missing")
        place = self.cache.unpacked(digest)
        name = chart.rsplit("/", 1)[-1]
        with self.cache.lock(f"unpack {digest}"):
            if not place.is_dir():
                with self.cache.scratch() as tmp:
                    extract_chart(archive, Path(tmp) / "out", max_bytes=MAX_CHART_BYTES,
                                  max_files=MAX_CHART_FILES, name=f"{name}-{version}.tgz")
                    os.rename(Path(tmp) / "out", place)
        tops = [p.name for p in place.iterdir()]
        if tops != [name]:
            raise FetchError(f"chart {chart} version {version} from {mask_url(repository)}: the archive "
                             f"holds {for_terminal(', '.join(tops))!r}, not the chart directory {name!r}")
        return FetchedChart(repository, chart, version, digest, archive, place / name)
