"""Remote repositories: cloned bare into the cache, fetched on reuse, the cache used (with a warning that
gives its age) when the remote is gone, and unreachable or silent remotes fail fast in one line."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from driftcheck.fetch.git import mask_url, open_repo, remote_urls
from driftcheck.model import DriftcheckError
from testing.crafted_git import CraftedRepo, Entry, file_entry, tree_entry
from testing.loopback import silent_http_remote

if TYPE_CHECKING:
    from conftest import GitRepoBuilder  # the git_repo fixture's type (tests/conftest.py)


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(["git", *args], cwd=cwd, env=full_env, check=True, capture_output=True,
                          text=True).stdout.strip()



@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("DRIFTCHECK_GIT_TOKEN", raising=False)


def test_remote_is_cloned_bare_into_the_cache_and_fetched_on_reuse(git_repo: GitRepoBuilder,
                                                                  tmp_path: Path) -> None:
    first = git_repo.commit({"a.yaml": "kind: A\n"}, "one")
    url = git_repo.path.as_uri()
    cache = tmp_path / "cache"
    repo = open_repo(url, cache_dir=cache)
    assert repo.bare and Path(repo.git_dir).parent == cache
    assert repo.commit("main").hexsha == first
    second = git_repo.commit({"a.yaml": "kind: B\n"}, "two")
    again = open_repo(url, cache_dir=cache)
    assert again.git_dir == repo.git_dir, "the same cache entry is reused"
    assert again.commit("main").hexsha == second, "and fetched"
    assert url in remote_urls(again)


def test_default_cache_is_under_xdg_cache_home(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    git_repo.commit({"a.yaml": "kind: A\n"}, "one")
    repo = open_repo(git_repo.path.as_uri())
    assert Path(repo.git_dir).is_relative_to(tmp_path / "xdg" / "driftcheck" / "repos")


def test_unfetchable_remote_falls_back_to_the_cache_with_its_age(git_repo: GitRepoBuilder, tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    sha = git_repo.commit({"a.yaml": "kind: A\n"}, "one")
    url = git_repo.path.as_uri()
    open_repo(url, cache_dir=tmp_path / "cache")
    shutil.rmtree(git_repo.path)
    with caplog.at_level(logging.WARNING):
        repo = open_repo(url, cache_dir=tmp_path / "cache")
    assert repo.commit("main").hexsha == sha
    assert "using the cached clone, last fetched 0:00:0" in caplog.text
    with pytest.raises(DriftcheckError) as failure:
        open_repo(url, cache_dir=tmp_path / "cache", require_fresh=True)
    assert "\n" not in str(failure.value) and url in str(failure.value)


def test_unreachable_remote_fails_within_seconds(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(DriftcheckError) as failure:
        open_repo(f"http://127.0.0.1:{port}/repo.git", cache_dir=tmp_path / "cache")
    assert time.monotonic() - started < 10
    assert "\n" not in str(failure.value) and f"127.0.0.1:{port}" in str(failure.value)
    assert not any((tmp_path / "cache").rglob("HEAD")), "no half clone is left in the cache"


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    with silent_http_remote() as url:
        yield url


def test_a_remote_that_never_answers_times_out(silent_server: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(DriftcheckError) as failure:
        open_repo(silent_server, cache_dir=tmp_path / "cache", timeout=1.5)
    assert time.monotonic() - started < 10
    assert "no answer within 1.5 s" in str(failure.value)


def test_mask_url_hides_userinfo() -> None:
    assert mask_url("https://user:tok@github.com/org/repo.git") == "https://***@github.com/org/repo.git"
    assert mask_url("https://tok@github.com/org/repo.git") == "https://***@github.com/org/repo.git"
    assert mask_url("https://github.com/org/repo.git") == "https://github.com/org/repo.git"
    assert mask_url("/srv/repo") == "/srv/repo"


def test_local_work_tree_is_opened_in_place(git_repo: GitRepoBuilder) -> None:
    sha = git_repo.commit({"a.yaml": "kind: A\n"}, "one")
    repo = open_repo(str(git_repo.path))
    assert Path(repo.working_tree_dir or "") == git_repo.path
    assert repo.head.commit.hexsha == sha == git(git_repo.path, "rev-parse", "HEAD")


def test_runs_cloning_the_same_remote_at_once_all_succeed(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    sha = git_repo.commit({"a.yaml": "kind: A\n"}, "one")
    url = git_repo.path.as_uri()
    results: list[object] = []

    def clone() -> None:
        try:
            results.append(open_repo(url, cache_dir=tmp_path / "cache").commit("main").hexsha)
        except DriftcheckError as e:
            results.append(e)

    threads = [threading.Thread(target=clone) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [sha] * 4
    assert len([p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]) == 1


def test_no_hook_runs_for_any_git_driftcheck_runs(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    """Hooks in a repository (or planted in the clone cache) never run: neither for a fetch nor for a
    git that GitPython starts on the opened repository."""
    git_repo.commit({"a.yaml": "kind: A\n"}, "one")
    proof = tmp_path / "hook-ran"
    script = f"#!/bin/sh\necho ran >> {proof}\n"
    local = git_repo.path / ".git" / "hooks" / "reference-transaction"
    local.write_text(script)
    local.chmod(0o755)
    open_repo(str(git_repo.path)).git.update_ref("refs/heads/copy", "HEAD")
    assert not proof.exists()
    local.unlink()  # the builder's own commits below must not run it
    url = git_repo.path.as_uri()
    cached = Path(open_repo(url, cache_dir=tmp_path / "cache").git_dir) / "hooks" / local.name
    cached.write_text(script)
    cached.chmod(0o755)
    git_repo.commit({"a.yaml": "kind: B\n"}, "two")
    open_repo(url, cache_dir=tmp_path / "cache")
    assert not proof.exists()
    git(cached.parent.parent, "update-ref", "refs/heads/plain", "HEAD")
    assert proof.exists(), "the hook does run under plain git, so the test would see it"


def test_a_crafted_tree_is_refused_at_clone_and_named_by_its_check(tmp_path: Path) -> None:
    repo = CraftedRepo.init(tmp_path / "crafted")
    repo.commit(repo.tree(tree_entry("..", repo.tree(file_entry("x", repo.blob("x\n"))))))
    with pytest.raises(DriftcheckError) as failure:
        open_repo(repo.url, cache_dir=tmp_path / "cache")
    assert "fails Git's object check (hasDotdot" in str(failure.value) and "\n" not in str(failure.value)
    assert not any((tmp_path / "cache").rglob("HEAD")), "nothing of it is kept"


def test_a_legacy_zero_padded_mode_still_clones(tmp_path: Path) -> None:
    """The object check refuses hostile trees, not old tools' formatting quirks (a `040000` tree mode)."""
    repo = CraftedRepo.init(tmp_path / "old")
    app = repo.tree(file_entry("a.yaml", repo.blob("kind: A\n")))
    sha = repo.commit(repo.tree(Entry("040000", b"app", app)))
    assert open_repo(repo.url, cache_dir=tmp_path / "cache").commit("main").hexsha == sha
