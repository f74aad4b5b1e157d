"""OCI charts against a real registry (Debian's docker-registry on loopback, htpasswd auth): tags, an exact
pull, ArgoCD-style scheme-less repoURLs with credentials from a repository Secret, and the failures a
user meets (401, unknown version, no such chart, registry down or silent) named clearly and in time."""

from __future__ import annotations

import logging
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftcheck.fetch.chart_oci import OciError, is_oci_repository, oci_versions, pull_oci_chart
from driftcheck.fetch.repo_credentials import RepoCredential, load_repo_credentials
from testing import planted
from testing.loopback import silent_http_remote
from testing.oci_registry import Registry, oci_registry, package_chart, push_chart

pytestmark = pytest.mark.slow
PASSWORD = planted.secret("oci-registry-password")
VERSIONS = ("1.0.0", "1.2.0", "1.10.1", "2.0.0")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    work = tmp_path_factory.mktemp("oci-charts")
    with oci_registry("chart-bot", PASSWORD) as reg:
        for version in VERSIONS:
            push_chart(package_chart(work, "demo", version), f"{reg.url}/charts", reg)
        yield reg


def login(registry: Registry, password: str = PASSWORD) -> RepoCredential:
    return RepoCredential(url=f"{registry.url}/charts", type="helm", username="chart-bot", password=password,
                          source="repo-secrets.yaml:1 (repository charts)")


def chart_version(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("demo/Chart.yaml")
        assert member is not None
        return next(line.split(":", 1)[1].strip() for line in member.read().decode().splitlines()
                    if line.startswith("version:"))


def test_tags_are_listed_newest_first(registry: Registry) -> None:
    tags = oci_versions(f"{registry.url}/charts", "demo", login(registry), timeout=30)
    assert tags == ["2.0.0", "1.10.1", "1.2.0", "1.0.0"]


def test_an_exact_version_is_pulled(registry: Registry, tmp_path: Path) -> None:
    archive = pull_oci_chart(f"{registry.url}/charts", "demo", "1.10.1", tmp_path / "out", login(registry),
                             timeout=30)
    assert archive == tmp_path / "out" / "demo-1.10.1.tgz"
    assert chart_version(archive) == "1.10.1"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["demo-1.10.1.tgz"]  # no leftovers


def test_argocd_scheme_less_repo_url_uses_the_enable_oci_repository_secret(registry: Registry,
                                                                           tmp_path: Path) -> None:
    secrets = planted.write_input(tmp_path / "repo-secrets.yaml", (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: charts\n  namespace: argocd\n  labels:\n"
        "    argocd.argoproj.io/secret-type: repository\nstringData:\n"
        f"  url: {registry.host}/charts\n  type: helm\n  enableOCI: 'true'\n"
        f"  username: chart-bot\n  password: {PASSWORD}\n"))
    repo_url = f"{registry.host}/charts"  # as an Application writes it: no scheme
    credential = load_repo_credentials(secrets).for_url(repo_url, "helm")
    assert credential is not None and is_oci_repository(repo_url, credential)
    assert not is_oci_repository(repo_url, None)  # Go cannot parse IP:port/path: it takes enableOCI
    archive = pull_oci_chart(repo_url, "demo", "2.0.0", tmp_path, credential, timeout=30)
    assert chart_version(archive) == "2.0.0"


def test_unknown_version_is_named(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(OciError) as caught:
        pull_oci_chart(f"{registry.url}/charts", "demo", "9.9.9", tmp_path, login(registry), timeout=30)
    assert str(caught.value).startswith(f"{registry.url}/charts/demo:9.9.9: unknown version 9.9.9")
    assert list(tmp_path.iterdir()) == []


def test_unknown_chart_is_named(registry: Registry) -> None:
    with pytest.raises(OciError, match="no such chart in the registry \\(404\\)") as caught:
        oci_versions(f"{registry.url}/charts", "missing", login(registry), timeout=30)
    assert str(caught.value).startswith(f"{registry.url}/charts/missing: ")


def test_wrong_password_is_401_without_the_password(registry: Registry, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    wrong = planted.secret("oci-wrong-password")
    caplog.set_level(logging.DEBUG)
    for call in (lambda: oci_versions(f"{registry.url}/charts", "demo", login(registry, wrong), timeout=30),
                 lambda: pull_oci_chart(f"{registry.url}/charts", "demo", "1.0.0", tmp_path,
                                        login(registry, wrong), timeout=30)):
        with pytest.raises(OciError) as caught:
            call()
        message = str(caught.value)
        assert "unauthorized (401) with the credentials of repo-secrets.yaml:1 (repository charts)" in message
        assert wrong not in message and PASSWORD not in message
    out, err = capfd.readouterr()
    assert wrong not in out + err + caplog.text


def test_anonymous_pull_from_a_private_registry_is_401(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(OciError, match="unauthorized \\(401\\) with no credential"):
        pull_oci_chart(f"{registry.url}/charts", "demo", "1.0.0", tmp_path, None, timeout=30)


def test_registry_down_fails_at_once_and_a_silent_one_within_the_timeout(tmp_path: Path) -> None:
    with oci_registry() as stopped:
        pass
    started = time.monotonic()
    with pytest.raises(OciError, match="registry unreachable"):
        oci_versions(f"{stopped.url}/charts", "demo", None, timeout=30)
    assert time.monotonic() - started < 10
    with silent_http_remote() as url:
        host = url.split("/")[2]
        started = time.monotonic()
        with pytest.raises(OciError) as caught:
            pull_oci_chart(f"oci://{host}/charts", "demo", "1.0.0", tmp_path, None, timeout=2)
        elapsed = time.monotonic() - started
    assert str(caught.value) == f"oci://{host}/charts/demo:1.0.0: registry unreachable: no answer within 2 s"
    assert 2 <= elapsed < 6


def test_anonymous_registry_needs_no_credential(tmp_path: Path) -> None:
    with oci_registry() as open_registry:
        push_chart(package_chart(tmp_path, "demo", "0.1.0"), f"{open_registry.url}/team/charts")
        assert oci_versions(f"{open_registry.url}/team/charts", "demo", None, timeout=30) == ["0.1.0"]


def test_a_constraint_resolves_to_the_highest_matching_tag(registry: Registry) -> None:
    semver = pytest.importorskip("driftcheck.fetch.semver", reason="fetch/semver.py (H3) has not landed")
    tags = oci_versions(f"{registry.url}/charts", "demo", login(registry), timeout=30)
    assert semver.best_match("^1.2", tags) == "1.10.1"  # 1.10.1 > 1.2.0: semver, not string order
    assert semver.best_match(">=1.0.0 <1.5.0", tags) == "1.2.0"
    assert semver.best_match("~3", tags) is None
