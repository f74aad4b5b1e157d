"""A chart repository that attacks: archives leading out of the chart or past the size limit, indexes
that are bombs or point at local files, redirects fishing for credentials. Each is a clear FetchError
naming chart, version and repository; nothing is written outside the cache, no credential goes astray."""

from __future__ import annotations

import importlib.util
import io
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from driftcheck.fetch.archive import MAX_CHART_BYTES
from driftcheck.fetch.cache import Cache
from driftcheck.fetch.charts import ChartFetcher, FetchError
from driftcheck.fetch.repo_credentials import NO_CREDENTIALS, RepoCredential, RepoCredentials
from testing import planted
from testing.chart_repo import ChartRepo, chart_repo

CHART_YAML = b"apiVersion: v2\nname: evil\nversion: 1.0.0\n"


@pytest.fixture
def repo(tmp_path: Path, require: Callable[[bool, str], None]) -> Iterator[ChartRepo]:
    require(importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra (helm-python-sdk)")
    with chart_repo(tmp_path) as served:
        yield served


def fetch(cache: Path, repo_url: str, chart: str = "evil", version: str = "1.0.0",
          credentials: RepoCredentials = NO_CREDENTIALS) -> None:
    ChartFetcher(Cache(cache), credentials, offline=False, timeout=10).fetch(repo_url, chart, version)


def evil_archive(path: Path, extra: list[tarfile.TarInfo], data: dict[str, bytes] | None = None,
                 level: int = 6) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=level) as tar:
        for name, content in {"evil/Chart.yaml": CHART_YAML, **(data or {})}.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"pwned\n") if info.isreg() else None)
    return path


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = 6 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(("member", "why"), [
    (entry("evil/../../../escaped.txt"), "'..' path component"),
    (entry("/tmp/escaped-absolute.txt"), "absolute path"),
    (entry("evil/templates/link.yaml", tarfile.SYMTYPE, "../../../../etc/passwd"), "leads outside the chart"),
    (entry("evil/templates/hard.yaml", tarfile.LNKTYPE, "etc/passwd"), "hard link"),
    (entry("evil/fifo", tarfile.FIFOTYPE), "device, FIFO or other special file"),
])
def test_an_archive_leading_out_of_the_chart_is_refused(repo: ChartRepo, tmp_path: Path,
                                                        member: tarfile.TarInfo, why: str) -> None:
    repo.add_archive(evil_archive(tmp_path / "evil-1.0.0.tgz", [member]), "evil", "1.0.0")
    with pytest.raises(FetchError, match=why) as caught:
        fetch(tmp_path / "cache", repo.url)
    assert f"chart evil version 1.0.0 from {repo.url}: evil-1.0.0.tgz: entry" in str(caught.value)
    assert not list(tmp_path.rglob("escaped*"))
    assert not list((tmp_path / "cache" / "charts").iterdir())  # nothing unpacked stays in the cache


def test_an_archive_past_the_size_limit_is_refused_naming_the_limit(repo: ChartRepo, tmp_path: Path) -> None:
    bomb = evil_archive(tmp_path / "evil-1.0.0.tgz", [],
                        {"evil/zeros.bin": b"\0" * (MAX_CHART_BYTES + 1)}, level=1)
    assert bomb.stat().st_size < 1 << 20  # small on the wire, past the limit unpacked
    repo.add_archive(bomb, "evil", "1.0.0")
    with pytest.raises(FetchError, match=f"more than {MAX_CHART_BYTES} bytes") as caught:
        fetch(tmp_path / "cache", repo.url)
    assert "chart evil version 1.0.0" in str(caught.value)


def test_an_archive_of_another_chart_is_refused(repo: ChartRepo, tmp_path: Path) -> None:
    archive = repo.add("other", "1.0.0")
    (repo.directory / "index.yaml").write_text((repo.directory / "index.yaml").read_text().replace(
        "other:", "evil:").replace("name: other", "name: evil"))
    assert archive.exists()
    with pytest.raises(FetchError, match="not the chart directory 'evil'"):
        fetch(tmp_path / "cache", repo.url)


def test_an_alias_bomb_index_is_read_without_expanding_it(repo: ChartRepo, tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 10)]
    (repo.directory / "index.yaml").write_text("\n".join(lines) + "\nentries: {evil: *a9}\n")
    start = time.monotonic()
    with pytest.raises(FetchError, match="index has no chart 'evil'"):  # ten entries, none a chart version
        fetch(tmp_path / "cache", repo.url)
    assert time.monotonic() - start < 10  # 10^10 nodes, never walked


def test_an_html_page_instead_of_an_index(repo: ChartRepo, tmp_path: Path) -> None:
    (repo.directory / "index.yaml").write_text("<html><body>Sign in</body></html>\n")
    with pytest.raises(FetchError, match="not a chart repository index"):
        fetch(tmp_path / "cache", repo.url)


def test_an_index_pointing_at_a_local_file_is_not_followed(repo: ChartRepo, tmp_path: Path) -> None:
    local = evil_archive(tmp_path / "local-evil-1.0.0.tgz", [])
    (repo.directory / "index.yaml").write_text(
        f"apiVersion: v1\nentries:\n  evil:\n  - name: evil\n    version: 1.0.0\n    urls: [file://{local}]\n")
    with pytest.raises(FetchError, match="only http:// and https://"):
        fetch(tmp_path / "cache", repo.url)


def test_credentials_do_not_follow_a_redirect_or_an_absolute_url_to_another_host(
        tmp_path: Path, require: Callable[[bool, str], None]) -> None:
    require(importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra (helm-python-sdk)")
    password = planted.secret("chart-repo-password")
    with chart_repo(tmp_path / "a", "reader", password) as private, chart_repo(tmp_path / "b") as other:
        for version in ("1.0.0", "2.0.0"):
            other.add("evil", version)
        private.add_archive(other.directory / "evil-1.0.0.tgz", "evil", "1.0.0")
        private.add_archive(other.directory / "evil-2.0.0.tgz", "evil", "2.0.0",
                            f"{other.url}/evil-2.0.0.tgz")
        private.redirects["/evil-1.0.0.tgz"] = f"{other.url}/evil-1.0.0.tgz"
        credentials = RepoCredentials([RepoCredential(url=private.url, type="helm", username="reader",
                                                      password=password)])
        fetch(tmp_path / "cache", private.url, version="1.0.0", credentials=credentials)
        fetch(tmp_path / "cache", private.url, version="2.0.0", credentials=credentials)
        assert [r.path for r in other.requests] == ["/evil-1.0.0.tgz", "/evil-2.0.0.tgz"]
        assert all(r.authorization == "" for r in other.requests)
        assert all(r.authorization for r in private.requests)  # the repository itself got them
