"""Chart dependencies written into charts/ as ArgoCD's repo-server has `helm dependency build` write them.

ArgoCD renders first and builds only when Helm reports a dependency missing: none is missing when
charts/ holds a subchart (a directory or a .tgz) whose own Chart.yaml name is the dependency's name,
whatever its version (Helm's `CheckDependencies`). When one is missing, every dependency is built again
(Helm's `Manager.Build`): with a lock, its digest must match the dependencies (`resolver.HashReq`) and
the lock's versions are fetched; without one, ranges resolve to the newest match. `file://` charts are
packaged from the repository copy, never from outside it, their own missing dependencies built first
(Helm itself does not recurse: driftcheck does, and refuses cycles). Remote charts, HTTP and OCI alike,
come through one `fetch` (`ChartFetcher.fetch`), which is why OCI dependencies work at all here.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from driftcheck.fetch.cache import file_digest
from driftcheck.fetch.charts import FetchedChart, FetchError
from driftcheck.fetch.lockhash import (
    Dependency,
    DependencyFileError,
    hash_req,
    hash_v2_req,
    parse_dependencies,
)
from driftcheck.fetch.semver import SemverError, best_match
from driftcheck.model import DriftcheckError
from driftcheck.render.yaml import YAMLStreamError, load_single
from driftcheck.scrub import mask_url
from driftcheck.textsafe import for_terminal

MARKER = ".argocd-helm-dep-up"  # the repo-server's "built once" marker in the chart directory
_MAX_CHART_YAML = 1 << 20  # bytes of a vendored archive's Chart.yaml read to learn its name

Fetch = Callable[[str, str, str], FetchedChart]


@dataclass(frozen=True)
class ResolvedDependency:
    """One dependency as built, for the report: where it came from and at which version."""

    name: str
    alias: str
    repository: str
    constraint: str  # the version (range) the chart declares
    version: str  # the version built (or found vendored)
    digest: str  # sha256:<hex> of the archive; "" for a vendored directory
    source: str  # "vendored" | "lock" | "resolved" | "file"
    chart: str = ""  # the declaring chart's shown path (a file:// chart's own dependencies differ)

    def describe(self) -> str:
        """'kube-prometheus-stack ^65 resolved to 65.0.0' and the like."""
        shown = self.name if not self.alias else f"{self.name} (as {self.alias})"
        if self.source == "vendored":
            return f"{shown} {self.version} vendored"
        how = {"lock": "pinned by the lock to", "resolved": "resolved to", "file": "packaged from the "
               "repository at"}[self.source]
        return f"{shown} {self.constraint} {how} {self.version}"


class DependencyError(DriftcheckError):
    """A dependency that cannot be built; the message names the chart file, dependency and repository."""

    def __init__(self, message: str, file: str) -> None:
        super().__init__(message)
        self.file = file  # the shown Chart.yaml (or lock) path, for the RunError


@dataclass
class _Chart:
    """What Helm's loader reads of one chart directory for a dependency build."""

    dir: Path
    shown: str
    file: str  # shown path of the file declaring the dependencies
    api_version: str
    dependencies: list[Dependency]
    registered: frozenset[str]  # the repositories ArgoCD `helm repo add`s (from Chart.yaml alone)
    lock: tuple[str, list[Dependency], str] | None  # (digest, dependencies, shown file)


def build_dependencies(chart_dir: Path, fetch: Fetch, *, shown_path: str, root: Path | None = None,
                       repositories: Mapping[str, str] | None = None) -> list[ResolvedDependency]:
    """Write the missing charts/ entries of chart_dir (a private copy) as the repo-server would.

    root: the repository copy that file:// paths must stay inside (default: the chart itself);
    repositories: ArgoCD's named Helm repositories, name -> URL, which `@name`/`alias:name` refer to.
    """
    builder = _Builder(fetch, (root or chart_dir).resolve(), dict(repositories or {}))
    return builder.build(chart_dir.resolve(), shown_path.rstrip("/") or ".", ())


class _Builder:
    def __init__(self, fetch: Fetch, root: Path, repositories: dict[str, str]) -> None:
        self.fetch = fetch
        self.root = root
        self.repositories = {name: url.rstrip("/") for name, url in repositories.items()}

    def build(self, chart_dir: Path, shown: str, stack: tuple[tuple[Path, str], ...]
              ) -> list[ResolvedDependency]:
        chart = _read_chart(chart_dir, shown)
        stack = (*stack, (chart_dir, shown))
        vendored = _vendored(chart_dir / "charts")
        if all(d.name in vendored for d in chart.dependencies):
            return [_as_vendored(d, vendored[d.name], shown) for d in chart.dependencies]
        if (chart_dir / MARKER).exists():
            raise DependencyError(f"{chart.file}: dependencies are missing from {shown}/charts/, and the "
                                  f"chart has a {MARKER} file, so ArgoCD would not build them", chart.file)
        requested = [self._repository_named(chart, d) for d in chart.dependencies]
        if chart.lock is not None:
            targets = self._locked(chart, requested)
        else:
            targets = [(d, d.version, "resolved") for d in requested]
        with tempfile.TemporaryDirectory(prefix="driftcheck-deps-", dir=chart_dir) as tmp:
            built, records = self._download(chart, targets, Path(tmp), stack)
            _move(built, chart_dir / "charts", {d.name for d in requested if not d.repository})
        if len(stack) == 1:  # the repo-server marks the app's chart alone
            (chart_dir / MARKER).write_text("marker")
        return records

    def _repository_named(self, chart: _Chart, dep: Dependency) -> Dependency:
        """The dependency with `@name`/`alias:name` replaced by that repository's URL (Helm's
        resolveRepoNames, which happens before the lock's digest is checked)."""
        repository = dep.repository
        if not repository or repository.startswith(("file://", "oci://")):
            return dep
        for prefix in ("@", "alias:"):
            if repository.startswith(prefix):
                url = self.repositories.get(repository[len(prefix):])
                if url is None:
                    raise DependencyError(
                        f"{chart.file}: dependency {_q(dep.name)}: no repository definition for "
                        f"{_q(repository)}; ArgoCD resolves {prefix}<name> to the Helm repository "
                        f"registered under that name, and none is named {_q(repository[len(prefix):])}",
                        chart.file)
                return replace(dep, repository=url)
        parts = urlsplit(repository)
        if not (parts.scheme and parts.netloc):
            raise DependencyError(
                f"{chart.file}: dependency {_q(dep.name)}: no repository definition for {_q(repository)}; "
                "a repository must be a URL (https://…, oci://…, file://…) or @name of a registered one",
                chart.file)
        return dep

    def _locked(self, chart: _Chart, requested: list[Dependency]) -> list[tuple[Dependency, str, str]]:
        """The lock's pins, once its digest shows it was made from these dependencies (Helm's Build)."""
        assert chart.lock is not None
        digest, locked, lock_file = chart.lock
        fresh = hash_req(requested, locked) == digest
        if not fresh and chart.api_version == "v1":  # a Helm 2 lock of a v1 chart (helm#7233)
            fresh = hash_v2_req(chart.dependencies) == digest
        if not fresh or len(locked) != len(requested):
            raise DependencyError(f"{lock_file} is out of sync with {chart.file}: its digest {_q(digest)} "
                                  "is not that of the dependencies; run `helm dependency update` and commit "
                                  "the lock", lock_file)
        for pin in locked:  # Helm's hasAllRepos: only repositories ArgoCD added are known with a lock
            repository = pin.repository.rstrip("/")
            if repository and not pin.repository.startswith(("file://", "oci://")) \
                    and repository not in chart.registered:
                raise DependencyError(
                    f"{lock_file}: dependency {_q(pin.name)}: no repository definition for "
                    f"{_q(mask_url(pin.repository))}; ArgoCD registers only the https:// and oci:// "
                    f"repositories and @names of {chart.shown}/Chart.yaml before a locked build", lock_file)
        return [(replace(pin, alias=want.alias), pin.version, "lock")
                for pin, want in zip(locked, requested, strict=True)]

    def _download(self, chart: _Chart, targets: list[tuple[Dependency, str, str]], tmp: Path,
                  stack: tuple[tuple[Path, str], ...]) -> tuple[list[Path], list[ResolvedDependency]]:
        """Every dependency into tmp (Helm's downloadAll); the archives written and the records."""
        built: list[Path] = []
        records: list[ResolvedDependency] = []
        seen: dict[tuple[str, str, str], ResolvedDependency] = {}
        declared = {d.name + "\0" + d.alias: d.version for d in chart.dependencies}
        for dep, version, source in targets:
            constraint = declared.get(dep.name + "\0" + dep.alias, dep.version)
            if not dep.repository:  # "in charts/ already": Helm only loads it
                found = _vendored(chart.dir / "charts").get(dep.name)
                if found is None:
                    raise DependencyError(f"{chart.file}: dependency {_q(dep.name)} has no repository and "
                                          f"is not in {chart.shown}/charts/", chart.file)
                records.append(_as_vendored(dep, found, chart.shown))
                continue
            if dep.repository.startswith("file://"):
                archive, nested = self._package(chart, dep, version, tmp, stack)
                built.append(archive)
                records += nested
                records.append(ResolvedDependency(dep.name, dep.alias, dep.repository, constraint,
                                                  _chart_version(archive), file_digest(archive), "file",
                                                  chart.shown))
                continue
            key = (dep.repository.rstrip("/"), dep.name, version)
            if key not in seen:
                fetched = self._fetch(chart, dep, version)
                archive = tmp / f"{dep.name}-{fetched.version}.tgz"
                shutil.copyfile(fetched.archive, archive)
                built.append(archive)
                seen[key] = ResolvedDependency(dep.name, "", dep.repository, constraint, fetched.version,
                                               fetched.digest, source, chart.shown)
            records.append(replace(seen[key], alias=dep.alias, constraint=constraint))
        return built, records

    def _fetch(self, chart: _Chart, dep: Dependency, version: str) -> FetchedChart:
        where = f"{chart.file}: dependency {_q(dep.name)} {_q(version)} from {mask_url(dep.repository)}"
        if not version:
            raise DependencyError(f"{where}: no version given", chart.file)
        try:
            fetched = self.fetch(dep.repository, dep.name, version)
        except FetchError as e:
            raise DependencyError(f"{where}: {e}", chart.file) from None
        name = _yaml_name(fetched.root / "Chart.yaml")
        if name != dep.name:
            raise DependencyError(f"{where}: the chart fetched is named {_q(name)}, not {_q(dep.name)}; "
                                  "refused", chart.file)
        return fetched

    def _package(self, chart: _Chart, dep: Dependency, version: str, tmp: Path,
                 stack: tuple[tuple[Path, str], ...]) -> tuple[Path, list[ResolvedDependency]]:
        """A file:// chart of the repository copy, its own dependencies built, packaged into tmp; its
        version must satisfy the constraint (or the lock's pin), as Helm's tarFromLocalDir checks."""
        import helm_python

        relative = dep.repository[len("file://"):]
        where = f"{chart.file}: dependency {_q(dep.name)} from {_q(dep.repository)}"
        target = (chart.dir / relative).resolve()
        if not target.is_relative_to(self.root):
            raise DependencyError(f"{where}: the path leads outside the repository; refused", chart.file)
        if not (target / "Chart.yaml").is_file():
            raise DependencyError(f"{where}: no chart there (no Chart.yaml)", chart.file)
        shown = posixpath.normpath(posixpath.join(chart.shown, relative))
        for place, name in stack:
            if place == target:
                chain = " → ".join([*(s for _, s in stack[stack.index((place, name)):]), shown])
                raise DependencyError(f"{where}: dependency cycle {chain}; refused", chart.file)
        meta = _yaml_file(target / "Chart.yaml", f"{shown}/Chart.yaml")
        if str(meta.get("name") or "") != dep.name:
            raise DependencyError(f"{where}: the chart there is named {_q(str(meta.get('name') or ''))}, "
                                  f"not {_q(dep.name)}", chart.file)
        found = str(meta.get("version") or "")
        try:
            fits = best_match(version, [found]) is not None
        except SemverError as e:
            raise DependencyError(f"{where}: invalid version/constraint {_q(version)}: {e}",
                                  chart.file) from None
        if not fits:
            raise DependencyError(f"{where}: the chart there is version {_q(found)}, which {_q(version)} "
                                  "does not allow", chart.file)
        nested = self.build(target, shown, stack)
        out = tmp / f"file-{len(list(tmp.iterdir()))}"
        try:
            archive = Path(helm_python.package(target, destination=out))
        except helm_python.HelmError as e:
            raise DependencyError(f"{where}: {for_terminal(str(e))}", chart.file) from None
        return archive, nested


def _read_chart(chart_dir: Path, shown: str) -> _Chart:
    """Chart.yaml's dependencies, or requirements.yaml's (which replace them, as Helm's loader reads),
    and the lock (requirements.lock read after Chart.lock, so it wins)."""
    chart_file = f"{shown}/Chart.yaml"
    meta = _yaml_file(chart_dir / "Chart.yaml", chart_file)
    declared = _parse(chart_dir / "Chart.yaml", chart_file, clean=True)
    registered = {d.repository.rstrip("/") for d in declared
                  if urlsplit(d.repository).scheme in ("https", "oci")}
    file = chart_file
    requirements = chart_dir / "requirements.yaml"
    if requirements.is_file() and "dependencies" in _yaml_file(requirements, f"{shown}/requirements.yaml"):
        file = f"{shown}/requirements.yaml"
        declared = _parse(requirements, file, clean=True)
    lock = None
    for name in ("Chart.lock", "requirements.lock"):
        if (chart_dir / name).is_file():
            lock_file = f"{shown}/{name}"
            digest = str(_yaml_file(chart_dir / name, lock_file).get("digest") or "")
            lock = (digest, _parse(chart_dir / name, lock_file, clean=False), lock_file)
    return _Chart(chart_dir, shown, file, str(meta.get("apiVersion") or "v1"), declared,
                  frozenset(registered), lock)


def _parse(path: Path, shown: str, *, clean: bool) -> list[Dependency]:
    try:
        return parse_dependencies(path, shown, clean=clean)
    except DependencyFileError as e:
        raise DependencyError(str(e), shown) from None


def _yaml_file(path: Path, shown: str) -> dict[str, Any]:
    try:
        data = load_single(path.read_bytes()) if path.is_file() else None
    except (OSError, YAMLStreamError) as e:
        raise DependencyError(f"{shown}: cannot be read: {for_terminal(str(e))}", shown) from None
    if not isinstance(data, dict):
        raise DependencyError(f"{shown}: not a YAML mapping", shown)
    return data


def _yaml_name(path: Path) -> str:
    return str(_yaml_file(path, str(path)).get("name") or "")


def _vendored(charts: Path) -> dict[str, tuple[str, str]]:
    """The subcharts Helm's loader finds in charts/: their Chart.yaml name -> (version, digest)."""
    found: dict[str, tuple[str, str]] = {}
    if not charts.is_dir():
        return found
    for entry in sorted(charts.iterdir()):
        if entry.name.startswith(("_", ".")):
            continue  # the loader skips these
        if entry.is_dir() and (entry / "Chart.yaml").is_file():
            meta = _yaml_file(entry / "Chart.yaml", str(entry / "Chart.yaml"))
            found.setdefault(str(meta.get("name") or ""), (str(meta.get("version") or ""), ""))
        elif entry.suffix == ".tgz" and entry.is_file():
            meta = _archive_chart_yaml(entry)
            if meta:
                found.setdefault(str(meta.get("name") or ""), (str(meta.get("version") or ""),
                                                               file_digest(entry)))
    return found


def _archive_chart_yaml(archive: Path) -> dict[str, Any]:
    """The top chart's Chart.yaml inside an archive (read, never extracted); {} when there is none."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = member.name.lstrip("./").split("/")
                if len(parts) == 2 and parts[1] == "Chart.yaml" and member.isfile() \
                        and member.size <= _MAX_CHART_YAML:
                    stream = tar.extractfile(member)
                    data = load_single(stream.read()) if stream else None
                    return data if isinstance(data, dict) else {}
    except (OSError, tarfile.TarError, YAMLStreamError):
        return {}
    return {}


def _chart_version(archive: Path) -> str:
    return str(_archive_chart_yaml(archive).get("version") or "")


def _as_vendored(dep: Dependency, found: tuple[str, str], shown: str) -> ResolvedDependency:
    return ResolvedDependency(dep.name, dep.alias, dep.repository, dep.version, found[0], found[1],
                              "vendored", shown)


def _move(built: list[Path], charts: Path, local: set[str]) -> None:
    """Helm's safeMoveDeps: the built archives into charts/, every other archive there removed (not
    directories, nor the charts of dependencies without a repository)."""
    charts.mkdir(exist_ok=True)
    names = {archive.name for archive in built}
    for entry in charts.iterdir():
        if entry.suffix == ".tgz" and entry.is_file() and entry.name not in names \
                and str(_archive_chart_yaml(entry).get("name") or "") not in local:
            entry.unlink()
    for archive in built:
        os.replace(archive, charts / archive.name)


def _q(text: str) -> str:
    return repr(for_terminal(text))
