"""Charts from an HTTP chart repository on loopback (packaged and indexed by the Helm SDK, served by
http.server), through one ChartFetcher and the shared cache, as a user's run would fetch them."""

from __future__ import annotations

import importlib.util
import multiprocessing
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from driftcheck.apps import path_app
from driftcheck.fetch.cache import Cache
from driftcheck.fetch.charts import ChartFetcher, FetchError
from driftcheck.fetch.dirtree import DirTree
from driftcheck.fetch.repo_credentials import NO_CREDENTIALS, RepoCredential, RepoCredentials
from driftcheck.render import render_app
from testing import planted
from testing.chart_repo import ChartRepo, chart_repo, make_chart, package
from testing.loopback import free_port, silent_http_remote
from testing.oci_registry import REGISTRY, oci_registry, push_chart


@pytest.fixture
def repo(tmp_path: Path, require: Callable[[bool, str], None]) -> Iterator[ChartRepo]:
    require(importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra (helm-python-sdk)")
    with chart_repo(tmp_path) as served:
        served.add("demo", "1.0.0")
        served.add("demo", "1.2.0")
        yield served


def fetcher(cache_root: Path, credentials: RepoCredentials = NO_CREDENTIALS, *, offline: bool = False,
            timeout: float = 10, mirrors: dict[str, str] | None = None) -> ChartFetcher:
    return ChartFetcher(Cache(cache_root), credentials, offline=offline, timeout=timeout, mirrors=mirrors)


def helm_creds(url: str, username: str, password: str) -> RepoCredentials:
    return RepoCredentials([RepoCredential(url=url, type="helm", username=username, password=password)])


def test_exact_version_is_fetched_verified_and_unpacked(repo: ChartRepo, tmp_path: Path) -> None:
    chart = fetcher(tmp_path / "cache").fetch(repo.url, "demo", "1.2.0")
    assert chart.version == "1.2.0"
    assert yaml.safe_load((chart.root / "Chart.yaml").read_text())["version"] == "1.2.0"
    index = yaml.safe_load((repo.directory / "index.yaml").read_text())
    listed = next(e for e in index["entries"]["demo"] if e["version"] == "1.2.0")
    assert chart.digest == f"sha256:{listed['digest']}"
    assert chart.archive.read_bytes() == (repo.directory / "demo-1.2.0.tgz").read_bytes()
    assert repo.downloads() == 1


def test_a_fetched_chart_renders_like_a_git_tree(repo: ChartRepo, tmp_path: Path) -> None:
    chart = fetcher(tmp_path / "cache").fetch(repo.url, "demo", "1.0.0")
    rendered = render_app(DirTree(chart.root, chart.digest), path_app("demo", "", "apps"))
    assert not rendered.errors, rendered.errors
    [configmap] = [r for r in rendered.resources if r.key.kind == "ConfigMap"]
    assert configmap.body["data"] == {"version": "1.0.0", "greeting": "hello"}


def test_absolute_urls_in_the_index_are_followed(tmp_path: Path,
                                                 require: Callable[[bool, str], None]) -> None:
    require(importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra (helm-python-sdk)")
    with chart_repo(tmp_path / "a") as index_repo, chart_repo(tmp_path / "b") as archives:
        archive = archives.add("demo", "3.0.0")
        index_repo.add_archive(archive, "demo", "3.0.0", f"{archives.url}/{archive.name}")
        (index_repo.directory / archive.name).unlink()  # only the other server has it
        chart = fetcher(tmp_path / "cache").fetch(index_repo.url, "demo", "3.0.0")
        assert chart.version == "3.0.0"
        assert archives.downloads() == 1 and index_repo.downloads() == 0


def test_a_second_run_on_the_same_cache_makes_no_request(repo: ChartRepo, tmp_path: Path) -> None:
    first = fetcher(tmp_path / "cache").fetch(repo.url, "demo", "1.0.0")
    asked = len(repo.requests)
    again = fetcher(tmp_path / "cache")
    second = again.fetch(repo.url, "demo", "1.0.0")
    assert len(repo.requests) == asked  # neither the index nor the archive
    assert second == first and again.cache.downloads == 0


def test_one_run_fetches_each_chart_once(repo: ChartRepo, tmp_path: Path) -> None:
    run = fetcher(tmp_path / "cache")
    for _ in range(3):
        run.fetch(repo.url, "demo", "1.0.0")
    run.fetch(repo.url, "demo", "1.2.0")
    assert repo.downloads() == 2 and run.cache.downloads == 2
    assert sum(r.path == "/index.yaml" for r in repo.requests) == 1


def test_offline_uses_the_cache_and_a_miss_names_chart_version_repository(repo: ChartRepo,
                                                                           tmp_path: Path) -> None:
    fetcher(tmp_path / "cache").fetch(repo.url, "demo", "1.0.0")
    asked = len(repo.requests)
    offline = fetcher(tmp_path / "cache", offline=True)
    assert offline.fetch(repo.url, "demo", "1.0.0").version == "1.0.0"
    with pytest.raises(FetchError) as caught:
        offline.fetch(repo.url, "demo", "1.2.0")
    assert f"chart demo version 1.2.0 from {repo.url}" in str(caught.value)
    assert "--offline" in str(caught.value)
    assert len(repo.requests) == asked


def test_unknown_version_names_the_versions_there_are(repo: ChartRepo, tmp_path: Path) -> None:
    with pytest.raises(FetchError) as caught:
        fetcher(tmp_path / "cache").fetch(repo.url, "demo", "9.9.9")
    message = str(caught.value)
    assert f"chart demo version 9.9.9 from {repo.url}" in message
    assert "it has 1.2.0, 1.0.0" in message
    with pytest.raises(FetchError, match="index has no chart 'nothing'"):
        fetcher(tmp_path / "cache").fetch(repo.url, "nothing", "1.0.0")


def test_digest_mismatch_is_refused_naming_chart_version_and_url(repo: ChartRepo, tmp_path: Path) -> None:
    (repo.directory / "demo-1.0.0.tgz").write_bytes((repo.directory / "demo-1.2.0.tgz").read_bytes())
    with pytest.raises(FetchError) as caught:
        fetcher(tmp_path / "cache").fetch(repo.url, "demo", "1.0.0")
    message = str(caught.value)
    assert f"chart demo version 1.0.0 from {repo.url}" in message
    assert f"{repo.url}/demo-1.0.0.tgz has digest sha256:" in message and "refused" in message
    assert Cache(tmp_path / "cache").ref(f"chart {repo.url} demo 1.0.0") is None


def test_an_unreachable_repository_fails_within_the_timeout(tmp_path: Path) -> None:
    with silent_http_remote() as url:
        start = time.monotonic()
        with pytest.raises(FetchError) as caught:
            fetcher(tmp_path / "cache", timeout=1).fetch(url, "demo", "1.0.0")
        assert time.monotonic() - start < 5
    assert f"chart demo version 1.0.0 from {url}" in str(caught.value)
    assert "no answer within 1 s (--request-timeout)" in str(caught.value)
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(FetchError, match="cannot connect"):
        fetcher(tmp_path / "cache", timeout=1).fetch(closed, "demo", "1.0.0")


def test_401_says_credentials_are_wanted_or_refused_and_never_shows_them(tmp_path: Path,
                                                                         require: Callable[[bool, str], None]
                                                                         ) -> None:
    require(importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra (helm-python-sdk)")
    password = planted.secret("chart-repo-password")
    with chart_repo(tmp_path, username="reader", password=password) as repo:
        repo.add("demo", "1.0.0")
        with pytest.raises(FetchError) as anonymous:
            fetcher(tmp_path / "c1").fetch(repo.url, "demo", "1.0.0")
        assert "HTTP 401 (unauthorized)" in str(anonymous.value)
        assert "none are configured" in str(anonymous.value)
        wrong = planted.secret("wrong-password")
        with pytest.raises(FetchError) as refused:
            fetcher(tmp_path / "c2", helm_creds(repo.url, "reader", wrong)).fetch(repo.url, "demo", "1.0.0")
        assert "refused the credentials" in str(refused.value)
        assert wrong not in str(refused.value) and "reader" not in str(refused.value)
        chart = fetcher(tmp_path / "c3", helm_creds(repo.url, "reader", password)).fetch(repo.url, "demo",
                                                                                           "1.0.0")
        assert chart.version == "1.0.0"


def test_a_mirror_serves_a_public_repository_url(repo: ChartRepo, tmp_path: Path) -> None:
    public = "https://charts.example.invalid/stable"
    chart = fetcher(tmp_path / "cache", mirrors={public: repo.url}).fetch(public, "demo", "1.2.0")
    assert chart.repository == public and chart.version == "1.2.0"
    assert repo.downloads() == 1
    # the cache keeps the URL the Application names: offline, no mirror needed
    assert fetcher(tmp_path / "cache", offline=True).fetch(public, "demo", "1.2.0").digest == chart.digest


def _fetch_in_child(cache_root: str, url: str, done: str) -> None:
    chart = ChartFetcher(Cache(Path(cache_root)), NO_CREDENTIALS, offline=False, timeout=30).fetch(
        url, "demo", "1.2.0")
    Path(done).write_text(f"{chart.digest} {chart.root}")


def test_two_runs_at_once_download_once_and_agree(repo: ChartRepo, tmp_path: Path) -> None:
    repo.delay = 1.0  # the first download is still running when the second run asks
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_fetch_in_child, args=(str(tmp_path / "cache"), repo.url,
                                                          str(tmp_path / f"done-{i}"))) for i in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [c.exitcode for c in children] == [0, 0]
    results = {(tmp_path / f"done-{i}").read_text() for i in range(2)}
    assert len(results) == 1
    assert repo.downloads() == 1


def test_an_oci_chart_goes_through_the_same_fetcher_and_cache(tmp_path: Path,
                                                             require: Callable[[bool, str], None]) -> None:
    require(importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra (helm-python-sdk)")
    require(Path(REGISTRY).exists(), "needs docker-registry (testing/prereqs.sh)")
    with oci_registry() as registry:
        push_chart(package(make_chart(tmp_path, "demo", "2.1.0"), tmp_path / "out"), f"{registry.url}/charts")
        run = fetcher(tmp_path / "cache", timeout=60)
        chart = run.fetch(f"{registry.url}/charts", "demo", "2.1.0")
        assert yaml.safe_load((chart.root / "Chart.yaml").read_text())["version"] == "2.1.0"
        assert run.cache.downloads == 1
        again = fetcher(tmp_path / "cache", offline=True)
        assert again.fetch(f"{registry.url}/charts", "demo", "2.1.0").digest == chart.digest


def test_a_constraint_resolves_to_the_highest_matching_version(repo: ChartRepo, tmp_path: Path) -> None:
    repo.add("demo", "2.0.0")
    run = fetcher(tmp_path / "cache")
    assert run.fetch(repo.url, "demo", "^1.0").version == "1.2.0"
    assert run.fetch(repo.url, "demo", ">=1.0.0 <1.2.0").version == "1.0.0"
    assert run.fetch(repo.url, "demo", "*").version == "2.0.0"
    with pytest.raises(FetchError) as caught:
        run.fetch(repo.url, "demo", "^3")
    assert f"chart demo version ^3 from {repo.url}: no version matches" in str(caught.value)
    assert "2.0.0, 1.2.0, 1.0.0" in str(caught.value)
    asked = len(repo.requests)
    offline = fetcher(tmp_path / "cache", offline=True)  # the version list the online run saw
    assert offline.fetch(repo.url, "demo", "~1.2").version == "1.2.0"
    assert len(repo.requests) == asked
    with pytest.raises(FetchError, match=r"no list of its versions in the cache .* \(--offline\)"):
        fetcher(tmp_path / "empty", offline=True).fetch(repo.url, "demo", "^1.0")
