"""Chart dependencies built as ArgoCD's repo-server builds them: real charts packaged with the Helm SDK,
served by a fake fetch (no HTTP), and locks written by Helm itself where the digest is the point."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
import yaml

from driftcheck.fetch.charts import FetchedChart, FetchError
from driftcheck.fetch.dependencies import MARKER, DependencyError, ResolvedDependency, build_dependencies
from driftcheck.fetch.lockhash import Dependency, hash_req, parse_dependencies
from testing.chart_repo import make_chart, package

helm_python = pytest.importorskip("helm_python")
REPO = "https://charts.example.test"


class FakeRepository:
    """fetch(repository, name, version) over real packaged charts; `^x` picks the newest x.*.*."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.charts: dict[tuple[str, str, str], FetchedChart] = {}
        self.calls: list[tuple[str, str, str]] = []

    def add(self, name: str, version: str, repository: str = REPO, served_as: str = "") -> None:
        src = make_chart(self.workdir, name, version)
        archive = package(src, self.workdir / "archives")
        digest = helm_python.digest(archive)
        self.charts[(repository, served_as or name, version)] = FetchedChart(
            repository, served_as or name, version, digest, archive, src)

    def fetch(self, repository: str, name: str, version: str) -> FetchedChart:
        self.calls.append((repository, name, version))
        versions = [v for (r, n, v) in self.charts if (r, n) == (repository, name)]
        if version.startswith("^"):
            major = version[1:].split(".")[0]
            matching = [v for v in versions if v.split(".")[0] == major]
            version = max(matching, key=lambda v: tuple(map(int, v.split("."))), default=version)
        if (repository, name, version) not in self.charts:
            raise FetchError(f"chart {name} version {version} from {repository}: no such version")
        return self.charts[(repository, name, version)]


@pytest.fixture
def repo(tmp_path: Path) -> FakeRepository:
    served = FakeRepository(tmp_path / "served")
    served.add("redis", "1.0.0")
    served.add("redis", "1.4.0")
    served.add("redis", "2.0.0")
    served.add("common", "0.3.0", repository="oci://registry.example.test/charts")
    return served


def chart(root: Path, path: str, dependencies: list[dict[str, object]], name: str = "",
          api_version: str = "v2") -> Path:
    """A chart directory at root/path declaring dependencies in Chart.yaml."""
    directory = root / path
    (directory / "templates").mkdir(parents=True)
    meta = {"apiVersion": api_version, "name": name or Path(path).name, "version": "1.0.0"}
    if dependencies:
        meta["dependencies"] = dependencies
    (directory / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    (directory / "templates" / "cm.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {meta['name']}\n")
    return directory


def archive_names(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        return tar.getnames()


def lock(directory: Path, pins: list[dict[str, str]]) -> None:
    """A Chart.lock whose digest is Helm's for these pins (hash_req is checked against Helm below)."""
    req = parse_dependencies(directory / "Chart.yaml", "Chart.yaml", clean=True)
    digest = hash_req(req, [Dependency(p["name"], p["version"], p["repository"]) for p in pins])
    (directory / "Chart.lock").write_text(yaml.safe_dump({"dependencies": pins, "digest": digest,
                                                         "generated": "2026-01-01T00:00:00Z"}))


def test_the_lock_digest_is_helms_own(tmp_path: Path) -> None:
    """Helm's `dependency update` writes the lock; our digest of Chart.yaml and lock is the one it wrote,
    with a range Go escapes (<, >), an alias, condition, tags and import-values (`y` is YAML 1.1 true)."""
    make_chart(tmp_path, "lib", "1.2.0")
    app = chart(tmp_path, "app", [
        {"name": "lib", "version": ">=1.0.0 <2.0.0", "repository": "file://../src-lib-1.2.0/lib",
         "alias": "library", "condition": "library.enabled", "tags": ["one", "two"],
         "import-values": [{"parent": "y", "child": "data"}, "defaults"]}])
    helm_python.dependency_update(app)
    written = yaml.safe_load((app / "Chart.lock").read_text())
    ours = hash_req(parse_dependencies(app / "Chart.yaml", "x", clean=True),
                    parse_dependencies(app / "Chart.lock", "y", clean=False))
    assert ours == written["digest"]


def test_vendored_dependencies_are_used_as_they_are(repo: FakeRepository, tmp_path: Path) -> None:
    """Helm checks by the subchart's own name, at any version: nothing is fetched or written."""
    app = chart(tmp_path, "app", [{"name": "redis", "version": "^2", "repository": REPO},
                                  {"name": "common", "version": "0.3.0", "repository": "oci://x/charts"}])
    (app / "charts").mkdir()
    package(make_chart(tmp_path / "v", "redis", "1.0.0"), app / "charts").rename(app / "charts" / "any.tgz")
    (app / "charts" / "common").mkdir()
    (app / "charts" / "common" / "Chart.yaml").write_text("apiVersion: v2\nname: common\nversion: 0.1.0\n")
    built = build_dependencies(app, repo.fetch, shown_path="apps/app")
    assert repo.calls == []
    assert [(d.name, d.version, d.source) for d in built] == [("redis", "1.0.0", "vendored"),
                                                              ("common", "0.1.0", "vendored")]
    assert built[0].digest.startswith("sha256:") and built[1].digest == ""
    assert sorted(p.name for p in (app / "charts").iterdir()) == ["any.tgz", "common"]
    assert not (app / MARKER).exists()


def test_a_range_without_a_lock_resolves_to_the_newest_match(repo: FakeRepository, tmp_path: Path) -> None:
    app = chart(tmp_path, "app", [{"name": "redis", "version": "^1", "repository": REPO}])
    built = build_dependencies(app, repo.fetch, shown_path="apps/app")
    digest = repo.charts[(REPO, "redis", "1.4.0")].digest
    assert built == [ResolvedDependency("redis", "", REPO, "^1", "1.4.0", digest, "resolved", "apps/app")]
    assert built[0].describe() == "redis ^1 resolved to 1.4.0"
    assert [p.name for p in (app / "charts").iterdir()] == ["redis-1.4.0.tgz"]
    assert (app / MARKER).exists()  # as the repo-server marks a chart it built
    helm_python.dependency_list(app)  # Helm loads what was written
    assert {d["status"] for d in helm_python.dependency_list(app)} == {"ok"}


def test_the_lock_pins_the_version_fetched(repo: FakeRepository, tmp_path: Path) -> None:
    app = chart(tmp_path, "app", [{"name": "redis", "version": "^1", "repository": REPO}])
    lock(app, [{"name": "redis", "version": "1.0.0", "repository": REPO}])
    built = build_dependencies(app, repo.fetch, shown_path="apps/app")
    assert repo.calls == [(REPO, "redis", "1.0.0")]
    assert (built[0].version, built[0].source, built[0].constraint) == ("1.0.0", "lock", "^1")


def test_a_lock_out_of_sync_is_refused_naming_it(repo: FakeRepository, tmp_path: Path) -> None:
    app = chart(tmp_path, "app", [{"name": "redis", "version": "^1", "repository": REPO}])
    lock(app, [{"name": "redis", "version": "1.0.0", "repository": REPO}])
    text = (app / "Chart.yaml").read_text().replace("^1", "^2")
    (app / "Chart.yaml").write_text(text)
    with pytest.raises(DependencyError, match=r"apps/app/Chart.lock is out of sync with apps/app/Chart.yaml"):
        build_dependencies(app, repo.fetch, shown_path="apps/app")
    assert repo.calls == []


def test_a_partial_charts_dir_is_built_again_whole(repo: FakeRepository, tmp_path: Path) -> None:
    """One missing dependency makes Helm build them all: the outdated archive goes, directories stay."""
    app = chart(tmp_path, "app", [{"name": "redis", "version": "1.4.0", "repository": REPO},
                                  {"name": "common", "version": "0.3.0",
                                   "repository": "oci://registry.example.test/charts"}])
    (app / "charts").mkdir()
    package(make_chart(tmp_path / "v", "redis", "1.0.0"), app / "charts")
    build_dependencies(app, repo.fetch, shown_path="app")
    assert sorted(p.name for p in (app / "charts").iterdir()) == ["common-0.3.0.tgz", "redis-1.4.0.tgz"]
    assert (REPO, "redis", "1.4.0") in repo.calls
    assert ("oci://registry.example.test/charts", "common", "0.3.0") in repo.calls


def test_file_dependencies_are_built_offline_and_recursively(repo: FakeRepository, tmp_path: Path) -> None:
    chart(tmp_path, "lib/leaf", [])
    chart(tmp_path, "lib/mid", [{"name": "leaf", "version": "1.0.0", "repository": "file://../leaf"},
                                {"name": "redis", "version": "^2", "repository": REPO}])
    app = chart(tmp_path, "apps/app", [{"name": "mid", "version": ">=1.0.0", "repository": "file://../../lib/mid"}])
    built = build_dependencies(app, repo.fetch, shown_path="apps/app", root=tmp_path)
    assert {(d.name, d.version, d.source, d.chart) for d in built} == {
        ("leaf", "1.0.0", "file", "lib/mid"), ("redis", "2.0.0", "resolved", "lib/mid"),
        ("mid", "1.0.0", "file", "apps/app")}
    names = archive_names(app / "charts" / "mid-1.0.0.tgz")
    assert {"mid/charts/leaf/Chart.yaml", "mid/charts/redis/Chart.yaml"} <= set(names)  # as Helm saves
    assert "mid/" + MARKER not in names


def test_a_file_dependency_outside_the_repository_is_refused(repo: FakeRepository, tmp_path: Path) -> None:
    chart(tmp_path, "outside", [])
    app = chart(tmp_path / "repo", "app", [{"name": "outside", "version": "1.0.0",
                                            "repository": "file://../../outside"}])
    with pytest.raises(DependencyError, match=r"app/Chart.yaml: dependency 'outside'.*outside the repo"):
        build_dependencies(app, repo.fetch, shown_path="app", root=tmp_path / "repo")


def test_a_dependency_cycle_is_refused_naming_the_chain(repo: FakeRepository, tmp_path: Path) -> None:
    chart(tmp_path, "b", [{"name": "a", "version": "1.0.0", "repository": "file://../a"}])
    a = chart(tmp_path, "a", [{"name": "b", "version": "1.0.0", "repository": "file://../b"}])
    with pytest.raises(DependencyError, match=r"dependency cycle a → b → a"):
        build_dependencies(a, repo.fetch, shown_path="a", root=tmp_path)


def test_a_chart_fetched_under_another_name_is_refused(repo: FakeRepository, tmp_path: Path) -> None:
    repo.add("redis", "3.0.0", served_as="valkey")  # the index says valkey, the archive is redis
    app = chart(tmp_path, "app", [{"name": "valkey", "version": "3.0.0", "repository": REPO}])
    with pytest.raises(DependencyError, match=r"named 'redis', not 'valkey'; refused"):
        build_dependencies(app, repo.fetch, shown_path="app")


def test_named_repositories_need_a_registered_repository(repo: FakeRepository, tmp_path: Path) -> None:
    app = chart(tmp_path, "app", [{"name": "redis", "version": "1.0.0", "repository": "@stable"},
                                  {"name": "common", "version": "0.3.0", "repository": "alias:oci"}])
    with pytest.raises(DependencyError, match=r"no repository definition for '@stable'.*named 'stable'"):
        build_dependencies(app, repo.fetch, shown_path="app")
    built = build_dependencies(app, repo.fetch, shown_path="app", repositories={
        "stable": REPO + "/", "oci": "oci://registry.example.test/charts"})
    assert [(d.name, d.repository) for d in built] == [
        ("redis", REPO), ("common", "oci://registry.example.test/charts")]


def test_a_bare_repository_name_is_not_a_url(repo: FakeRepository, tmp_path: Path) -> None:
    app = chart(tmp_path, "app", [{"name": "redis", "version": "1.0.0", "repository": "stable"}])
    with pytest.raises(DependencyError, match=r"no repository definition for 'stable'; a repository must be"):
        build_dependencies(app, repo.fetch, shown_path="app")


def test_a_locked_plain_http_repository_is_not_registered(repo: FakeRepository, tmp_path: Path) -> None:
    """ArgoCD `helm repo add`s only https:// and oci:// dependencies; a locked build wants every one."""
    app = chart(tmp_path, "app", [{"name": "redis", "version": "1.0.0", "repository": "http://plain.test"}])
    lock(app, [{"name": "redis", "version": "1.0.0", "repository": "http://plain.test"}])
    with pytest.raises(DependencyError, match=r"app/Chart.lock: dependency 'redis': no repository def"):
        build_dependencies(app, repo.fetch, shown_path="app")


def test_aliases_of_one_chart_are_fetched_once(repo: FakeRepository, tmp_path: Path) -> None:
    app = chart(tmp_path, "app", [{"name": "redis", "version": "1.4.0", "repository": REPO, "alias": "cache"},
                                  {"name": "redis", "version": "1.4.0", "repository": REPO, "alias": "queue",
                                   "condition": "queue.enabled"}])
    built = build_dependencies(app, repo.fetch, shown_path="app")
    assert repo.calls == [(REPO, "redis", "1.4.0")]
    assert [d.alias for d in built] == ["cache", "queue"]
    assert built[1].describe() == "redis (as queue) 1.4.0 resolved to 1.4.0"
    assert yaml.safe_load((app / "Chart.yaml").read_text())["dependencies"][1]["condition"] == "queue.enabled"


def test_a_fetch_failure_names_the_chart_file(repo: FakeRepository, tmp_path: Path) -> None:
    app = chart(tmp_path, "app", [{"name": "redis", "version": "9.9.9", "repository": REPO}])
    with pytest.raises(DependencyError, match=r"^app/Chart.yaml: dependency 'redis' '9.9.9' from https://"
                                              r"charts.example.test: chart redis version 9.9.9") as e:
        build_dependencies(app, repo.fetch, shown_path="app")
    assert e.value.file == "app/Chart.yaml"


def test_requirements_yaml_of_a_v1_chart(repo: FakeRepository, tmp_path: Path) -> None:
    app = chart(tmp_path, "app", [], api_version="v1")
    (app / "requirements.yaml").write_text(f"dependencies:\n- name: redis\n  version: ^2\n"
                                           f"  repository: {REPO}\n")
    built = build_dependencies(app, repo.fetch, shown_path="app")
    assert [(d.name, d.version) for d in built] == [("redis", "2.0.0")]
    assert (app / "charts" / "redis-2.0.0.tgz").is_file()


def test_a_file_dependency_outside_its_constraint_is_refused(repo: FakeRepository, tmp_path: Path) -> None:
    chart(tmp_path, "lib", [])  # version 1.0.0
    app = chart(tmp_path, "app", [{"name": "lib", "version": "^2", "repository": "file://../lib"}])
    with pytest.raises(DependencyError, match=r"is version '1.0.0', which '\^2' does not allow"):
        build_dependencies(app, repo.fetch, shown_path="app", root=tmp_path)
