"""Another Git repository, served by `git daemon` on loopback, at every kind of targetRevision ArgoCD accepts:
cloned once into the cache, fetched on reuse, and refused with the URL named when it cannot be had."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from driftcheck.fetch.remote_git import GitRepositories, RemoteGitError
from driftcheck.fetch.repo_credentials import NO_CREDENTIALS
from testing.loopback import free_port, serve_git, silent_http_remote

if TYPE_CHECKING:
    from conftest import GitRepoBuilder  # the git_repo fixture's type (tests/conftest.py)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def cm(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: '{value}'\n"


class Served:
    def __init__(self, work: GitRepoBuilder, url: str, bare: Path) -> None:
        self.work, self.url, self.bare = work, url, bare
        self.shas: dict[str, str] = {}

    def push(self) -> None:
        git(self.work.path, "push", "-q", "--force", "--tags", str(self.bare), "refs/heads/*:refs/heads/*")


@pytest.fixture
def other_repo(git_repo: GitRepoBuilder, tmp_path: Path) -> Iterator[Served]:
    """main: one (Jan 10) → two (Jan 20) → three (Feb 1); release: r1 (Jan 12) → r2 (Jan 25);
    tags v1.2.0 (one), v1.10.0 (two, annotated), v2.0.0-rc.1 (three), prod/v0.3.0 (r1), and a tag `release`
    on one, which the branch of that name must win over."""
    shas = {"one": git_repo.commit({"app/cm.yaml": cm("one")}, "one", date="2026-01-10T10:00:00+00:00")}
    git(git_repo.path, "tag", "v1.2.0")
    git(git_repo.path, "tag", "release")
    git(git_repo.path, "checkout", "-q", "-b", "release")
    shas["r1"] = git_repo.commit({"app/cm.yaml": cm("r1")}, "r1", date="2026-01-12T10:00:00+00:00")
    git(git_repo.path, "tag", "prod/v0.3.0")
    shas["r2"] = git_repo.commit({"app/cm.yaml": cm("r2")}, "r2", date="2026-01-25T10:00:00+00:00")
    git(git_repo.path, "checkout", "-q", "main")
    shas["two"] = git_repo.commit({"app/cm.yaml": cm("two")}, "two", date="2026-01-20T10:00:00+00:00")
    git(git_repo.path, "tag", "-a", "-m", "release 1.10", "v1.10.0")
    shas["three"] = git_repo.commit({"app/cm.yaml": cm("three")}, "three", date="2026-02-01T10:00:00+00:00")
    git(git_repo.path, "tag", "v2.0.0-rc.1")
    url, daemon = serve_git(git_repo.path, tmp_path / "served", "other.git")
    served = Served(git_repo, url, tmp_path / "served" / "other.git")
    served.shas = shas
    yield served
    daemon.terminate()
    daemon.wait(timeout=10)


def repositories(tmp_path: Path, **kwargs: object) -> GitRepositories:
    options: dict[str, object] = {"offline": False, "timeout": 20.0, **kwargs}
    return GitRepositories(tmp_path / "cache", NO_CREDENTIALS, **options)  # type: ignore[arg-type]


def value(tree: object) -> str:
    text = tree.read("app/cm.yaml").decode()  # type: ignore[attr-defined]
    return text.split("v: '")[1].split("'")[0]


@pytest.mark.parametrize(("revision", "expected"), [
    ("main", "three"), ("HEAD", "three"), ("", "three"),
    ("release", "r2"),                      # the branch, not the tag `release` on "one"
    ("v1.2.0", "one"), ("v1.10.0", "two"),  # lightweight and annotated tags
    ("refs/tags/release", "one"),
    ("^1", "two"),                          # v1.10.0 > v1.2.0: semver, not string order
    ("~1.2", "one"), (">=1.0.0 <1.5.0", "one"), ("*", "two"),  # v2.0.0-rc.1 is a prerelease
    (">=2.0.0-0", "three"),
])
def test_revision_resolves_as_argocd(other_repo: Served, tmp_path: Path, revision: str,
                                     expected: str) -> None:
    assert value(repositories(tmp_path).tree(other_repo.url, revision)) == expected


def test_commit_sha_full_and_short(other_repo: Served, tmp_path: Path) -> None:
    repos = repositories(tmp_path)
    sha = other_repo.shas["r1"]
    assert repos.tree(other_repo.url, sha).sha == sha
    assert repos.tree(other_repo.url, sha[:9]).sha == sha


def test_tag_prefix_scopes_the_constraint(other_repo: Served, tmp_path: Path) -> None:
    repos = repositories(tmp_path)
    assert value(repos.tree(other_repo.url, "0.x", prefix="prod/")) == "r1"
    with pytest.raises(RemoteGitError, match=r"no tag with prefix prod/ matches the constraint \^1 \(5 tags"):
        repos.tree(other_repo.url, "^1", prefix="prod/")


def test_at_picks_the_last_commit_on_that_repositorys_branch(other_repo: Served, tmp_path: Path) -> None:
    repos = repositories(tmp_path)
    assert value(repos.tree(other_repo.url, "release", datetime.fromisoformat("2026-01-20T00:00:00+00:00"))
                 ) == "r1"
    assert value(repos.tree(other_repo.url, "main", datetime.fromisoformat("2026-01-20T10:00:00+00:00"))
                 ) == "two"
    # a constraint only sees the tags that existed then: v1.10.0 (Jan 20) did not yet on Jan 15
    jan15 = datetime.fromisoformat("2026-01-15T00:00:00+00:00")
    assert value(repos.tree(other_repo.url, "^1", jan15)) == "one"
    with pytest.raises(RemoteGitError, match=f"{other_repo.url}.*before the first commit"):
        repos.tree(other_repo.url, "main", datetime.fromisoformat("2025-12-01T00:00:00+00:00"))


def test_cloned_once_per_run_and_fetched_on_reuse(other_repo: Served, tmp_path: Path) -> None:
    first = repositories(tmp_path)
    for revision in ("main", "release", "^1", "v1.2.0"):
        first.tree(other_repo.url, revision)
    first.tree(other_repo.url.removesuffix(".git"), "main")  # the same repository, as ArgoCD normalizes it
    assert (first.clones, first.fetches) == (1, 0)
    assert len(list((tmp_path / "cache" / "repos").iterdir())) == 1

    other_repo.work.commit({"app/cm.yaml": cm("four")}, "four", date="2026-02-05T10:00:00+00:00")
    other_repo.push()
    assert value(first.tree(other_repo.url, "main")) == "three", "one run sees one state of the repository"

    second = repositories(tmp_path)
    assert value(second.tree(other_repo.url, "main")) == "four"
    second.tree(other_repo.url, "release")
    assert (second.clones, second.fetches) == (0, 1)


def test_concurrent_runs_share_one_clone(other_repo: Served, tmp_path: Path) -> None:
    runs = [repositories(tmp_path) for _ in range(3)]
    failures: list[BaseException] = []

    def run(repos: GitRepositories) -> None:
        try:
            assert value(repos.tree(other_repo.url, "main")) == "three"
        except BaseException as e:  # reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=run, args=(r,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert sum(r.clones for r in runs) == 1 and sum(r.fetches for r in runs) == 2


def test_offline_uses_the_cache_and_names_a_miss(other_repo: Served, tmp_path: Path) -> None:
    repositories(tmp_path).tree(other_repo.url, "main")
    offline = repositories(tmp_path, offline=True)
    assert value(offline.tree(other_repo.url, "release")) == "r2"
    assert (offline.clones, offline.fetches) == (0, 0)
    miss = r"git://127\.0\.0\.1:1/nowhere\.git: not in the cache .* --offline"
    with pytest.raises(RemoteGitError, match=miss):
        offline.tree("git://127.0.0.1:1/nowhere.git", "main")


def test_mirror_rewrites_the_url(other_repo: Served, tmp_path: Path) -> None:
    base = other_repo.url.removesuffix("other.git")
    repos = repositories(tmp_path, mirrors={"https://github.com/example/": base})
    assert value(repos.tree("https://github.com/example/other.git", "release")) == "r2"
    assert repos.clones == 1


def test_unknown_revision_names_url_and_revision(other_repo: Served, tmp_path: Path) -> None:
    repos = repositories(tmp_path)
    with pytest.raises(RemoteGitError, match=f"{other_repo.url}: revision no-such-branch: no such branch"):
        repos.tree(other_repo.url, "no-such-branch")
    with pytest.raises(RemoteGitError, match=r"no tag matches the constraint \^7"):
        repos.tree(other_repo.url, "^7")
    with pytest.raises(RemoteGitError, match=f"revision {'0' * 40}: no such commit"):
        repos.tree(other_repo.url, "0" * 40)
    assert repos.clones == 1


def test_unreachable_repository_fails_within_the_timeout_naming_the_url(tmp_path: Path) -> None:
    refused = f"git://127.0.0.1:{free_port()}/gone.git"
    repos = repositories(tmp_path, timeout=3.0)
    with pytest.raises(RemoteGitError, match=refused):
        repos.tree(refused, "main")
    with silent_http_remote() as silent:
        start = time.monotonic()
        with pytest.raises(RemoteGitError, match=f"{silent}: no answer within 3 s"):
            repos.tree(silent, "main")
        assert time.monotonic() - start < 10
        with pytest.raises(RemoteGitError, match=silent):  # the failure is remembered for the run
            repos.tree(silent, "v1.0.0")
