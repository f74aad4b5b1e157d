"""A wrapper chart's dependencies built through the real ChartFetcher: a loopback HTTP chart repository
(reached through a mirror of its public https:// URL, as air-gapped installs do), an OCI registry
(docker-registry), a file:// chart, and Helm rendering what was written."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from driftcheck.fetch.cache import Cache
from driftcheck.fetch.charts import ChartFetcher
from driftcheck.fetch.dependencies import DependencyError, build_dependencies
from driftcheck.fetch.lockhash import Dependency, hash_req, parse_dependencies
from driftcheck.fetch.repo_credentials import NO_CREDENTIALS
from testing.chart_repo import ChartRepo, chart_repo
from testing.oci_registry import REGISTRY, Registry, oci_registry, package_chart, push_chart

pytestmark = pytest.mark.slow
PUBLIC = "https://charts.example.test/stable"


@pytest.fixture
def repo(tmp_path: Path, require: Callable[[bool, str], None]) -> Iterator[ChartRepo]:
    require(importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra (helm-python-sdk)")
    with chart_repo(tmp_path / "http") as served:
        served.add("redis", "1.0.0")
        served.add("redis", "1.2.0")
        yield served


@pytest.fixture
def registry(tmp_path: Path, require: Callable[[bool, str], None]) -> Iterator[Registry]:
    require(Path(REGISTRY).exists(), "needs docker-registry (testing/prereqs.sh)")
    with oci_registry() as reg:
        push_chart(package_chart(tmp_path / "oci", "common", "0.3.0"), f"{reg.url}/charts")
        yield reg


def fetcher(cache: Path, repo: ChartRepo, *, offline: bool = False) -> ChartFetcher:
    return ChartFetcher(Cache(cache), NO_CREDENTIALS, offline=offline, timeout=10,
                        mirrors={PUBLIC: repo.url})


def wrapper(root: Path, dependencies: list[dict[str, str]]) -> Path:
    app = root / "apps" / "web"
    (app / "templates").mkdir(parents=True)
    (app / "Chart.yaml").write_text(yaml.safe_dump({"apiVersion": "v2", "name": "web", "version": "0.1.0",
                                                    "dependencies": dependencies}, sort_keys=False))
    (app / "templates" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n")
    return app


def rendered_names(chart: Path) -> set[str]:
    import helm_python

    with helm_python.Chart.load(str(chart)) as loaded:
        return {doc["metadata"]["name"] for text in loaded.render({}).values()
                for doc in yaml.safe_load_all(text) if doc}


def test_http_oci_and_file_dependencies_are_built_and_render(repo: ChartRepo, registry: Registry,
                                                             tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    lib = root / "lib" / "shared"
    (lib / "templates").mkdir(parents=True)
    (lib / "Chart.yaml").write_text("apiVersion: v2\nname: shared\nversion: 2.0.0\n")
    (lib / "templates" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n")
    app = wrapper(root, [{"name": "redis", "version": "^1.0.0", "repository": PUBLIC},
                         {"name": "common", "version": "0.3.0", "repository": f"{registry.url}/charts"},
                         {"name": "shared", "version": "2.x", "repository": "file://../../lib/shared"}])
    pins = [Dependency("redis", "1.0.0", PUBLIC), Dependency("common", "0.3.0", f"{registry.url}/charts"),
            Dependency("shared", "2.0.0", "file://../../lib/shared")]
    digest = hash_req(parse_dependencies(app / "Chart.yaml", "Chart.yaml", clean=True), pins)
    (app / "Chart.lock").write_text(yaml.safe_dump({"digest": digest, "dependencies": [
        {"name": p.name, "version": p.version, "repository": p.repository} for p in pins]}))

    built = build_dependencies(app, fetcher(tmp_path / "cache", repo).fetch, shown_path="apps/web", root=root)

    assert [d.describe() for d in built] == ["redis ^1.0.0 pinned by the lock to 1.0.0",
                                             "common 0.3.0 pinned by the lock to 0.3.0",
                                             "shared 2.x packaged from the repository at 2.0.0"]
    assert rendered_names(app) == {"web", "redis", "common", "shared"}
    assert repo.downloads() == 1  # the lock's 1.0.0, not the newer 1.2.0

    again = wrapper(tmp_path / "second", [{"name": "redis", "version": "1.0.0", "repository": PUBLIC}])
    build_dependencies(again, fetcher(tmp_path / "cache", repo, offline=True).fetch, shown_path="apps/web")
    assert repo.downloads() == 1  # a later run builds from the cache alone


def test_a_helm_lock_is_in_sync_but_plain_http_is_not_registered(repo: ChartRepo, tmp_path: Path) -> None:
    """Helm's own `dependency update` lock passes our digest check; and since ArgoCD `helm repo add`s only
    https:// and oci:// dependencies, its locked build of an http:// one fails as ArgoCD's does."""
    import helm_python

    app = wrapper(tmp_path, [{"name": "redis", "version": ">=1.0.0 <1.1.0", "repository": repo.url}])
    helm_python.dependency_update(app)
    (app / "charts" / "redis-1.0.0.tgz").unlink()
    with pytest.raises(DependencyError, match=r"^apps/web/Chart.lock: dependency 'redis': no repository "
                                              r"definition for 'http://127.0.0.1:\d+'"):
        build_dependencies(app, fetcher(tmp_path / "cache", repo).fetch, shown_path="apps/web")


def test_a_range_without_a_lock_takes_the_newest(repo: ChartRepo, tmp_path: Path) -> None:
    app = wrapper(tmp_path, [{"name": "redis", "version": "^1.0.0", "repository": PUBLIC}])
    built = build_dependencies(app, fetcher(tmp_path / "cache", repo).fetch, shown_path="apps/web")
    assert built[0].describe() == "redis ^1.0.0 resolved to 1.2.0"
    assert (app / "charts" / "redis-1.2.0.tgz").is_file()
