"""--revision and --at resolve to the commit git itself names (`git rev-parse`, `git rev-list --before`)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.moments import parse_moment
from driftcheck.model import DriftcheckError

if TYPE_CHECKING:
    from conftest import GitRepoBuilder  # the git_repo fixture's type (tests/conftest.py)


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(["git", *args], cwd=cwd, env=full_env, check=True, capture_output=True,
                          text=True).stdout.strip()


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: '{}'\n"


@pytest.fixture
def history(git_repo: GitRepoBuilder) -> GitRepoBuilder:
    """main: a (19 Jan) → c (21 Jan) → merge of feature (23 Jan); feature: b (20 Jan, committed from a).
    Dates carry +09:00 like the corpus; the feature commit is newer than c's parent but off first-parent."""
    git_repo.commit({"app/cm.yaml": CM.format(1)}, "a", date="2026-01-19T10:00:00+09:00")
    git(git_repo.path, "checkout", "-q", "-b", "feature")
    git_repo.commit({"app/other.yaml": CM.format(2)}, "b", date="2026-01-20T12:00:00+09:00")
    git(git_repo.path, "checkout", "-q", "main")
    git_repo.commit({"app/cm.yaml": CM.format(3)}, "c", date="2026-01-21T09:00:00+09:00")
    env = {"GIT_AUTHOR_DATE": "2026-01-23T08:00:00+09:00", "GIT_COMMITTER_DATE": "2026-01-23T08:00:00+09:00",
           "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    git(git_repo.path, "merge", "-q", "--no-ff", "-m", "merge feature", "feature", env=env)
    git(git_repo.path, "tag", "v1", "HEAD~1")
    return git_repo


def rev_list_before(repo: Path, moment: str, revision: str = "HEAD") -> str:
    return git(repo, "rev-list", "-1", "--first-parent", f"--before={moment}", revision)


@pytest.mark.parametrize("moment", [
    "2026-01-20T16:30:00+09:00", "2026-01-20T12:00:00+09:00", "2026-01-21T00:00:00Z",
    "2026-01-21T09:00:00+09:00", "2026-01-21T08:59:59+09:00", "2026-01-22T23:00:00-05:00",
    "2026-01-23T10:00:00+09:00", "2030-01-01T00:00:00+00:00"])
def test_at_resolves_like_git_rev_list_first_parent(history: GitRepoBuilder, moment: str) -> None:
    repo = open_repo(str(history.path))
    assert resolve_commit(repo, "main", moment).hexsha == rev_list_before(history.path, moment, "main")


def test_at_follows_the_first_parent_chain_not_merged_branches(history: GitRepoBuilder) -> None:
    """On 20 January 16:30 main still had only `a`; the feature commit of 12:00 was not deployed yet."""
    repo = open_repo(str(history.path))
    commit = resolve_commit(repo, None, "2026-01-20T16:30:00+09:00")
    assert commit.message.strip() == "a"


def test_bare_date_means_the_end_of_that_day_in_utc(history: GitRepoBuilder) -> None:
    repo = open_repo(str(history.path))
    # c was committed 2026-01-21T09:00+09:00 = 2026-01-21T00:00Z: part of 21 January (UTC), not of the 20th.
    assert resolve_commit(repo, "main", "2026-01-21").hexsha == rev_list_before(
        history.path, "2026-01-21T23:59:59Z", "main")
    assert resolve_commit(repo, "main", "2026-01-21").message.strip() == "c"
    assert resolve_commit(repo, "main", "2026-01-20").message.strip() == "a"


def test_moment_before_the_first_commit_is_one_clear_error(history: GitRepoBuilder) -> None:
    repo = open_repo(str(history.path))
    with pytest.raises(DriftcheckError) as failure:
        resolve_commit(repo, "main", "2026-01-18T23:59:59+09:00")
    message = str(failure.value)
    assert "\n" not in message and "before the first commit" in message
    assert git(history.path, "rev-list", "--max-parents=0", "HEAD")[:12] in message


@pytest.mark.parametrize("revision", ["main", "feature", "v1", "HEAD~1"])
def test_revision_names_resolve_like_rev_parse(history: GitRepoBuilder, revision: str) -> None:
    repo = open_repo(str(history.path))
    expected = git(history.path, "rev-parse", f"{revision}^{{commit}}")
    assert resolve_commit(repo, revision).hexsha == expected
    assert resolve_commit(repo, expected[:7]).hexsha == expected
    assert resolve_commit(repo, expected).hexsha == expected


@pytest.mark.parametrize("revision", ["nope", "deadbeef", "v9", "main~10"])
def test_unknown_revision_is_one_clear_error(history: GitRepoBuilder, revision: str) -> None:
    repo = open_repo(str(history.path))
    with pytest.raises(DriftcheckError) as failure:
        resolve_commit(repo, revision)
    assert revision in str(failure.value) and "\n" not in str(failure.value)


def test_parse_moment_forms() -> None:
    assert parse_moment("2026-01-20T16:30:00+09:00") == datetime(2026, 1, 20, 7, 30, tzinfo=UTC)
    assert parse_moment("2026-01-20T16:30:00+09:00").utcoffset() == timedelta(hours=9)
    assert parse_moment("2026-01-20T07:30:00Z") == datetime(2026, 1, 20, 7, 30, tzinfo=UTC)
    assert parse_moment("2026-01-20T07:30:00") == datetime(2026, 1, 20, 7, 30, tzinfo=UTC)
    assert parse_moment("2026-01-19") == datetime(2026, 1, 19, 23, 59, 59, tzinfo=UTC)
    for bad in ("yesterday", "2026-13-01", "20/01/2026", ""):
        with pytest.raises(DriftcheckError):
            parse_moment(bad)


def test_not_a_repository_is_one_clear_error(tmp_path: Path) -> None:
    for spec in (str(tmp_path), str(tmp_path / "missing")):
        with pytest.raises(DriftcheckError) as failure:
            open_repo(spec)
        assert spec in str(failure.value)


def test_bare_repository_resolves_too(history: GitRepoBuilder, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(history.path), str(bare)], check=True)
    repo = open_repo(str(bare))
    moment = "2026-01-21T12:00:00+09:00"
    assert resolve_commit(repo, "main", moment).hexsha == rev_list_before(history.path, moment, "main")


def test_moment_before_a_shallow_clones_history_says_so(history: GitRepoBuilder, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "main", history.path.as_uri(),
                    str(shallow)], check=True)
    repo = open_repo(str(shallow))
    with pytest.raises(DriftcheckError, match="shallow clone"):
        resolve_commit(repo, None, "2026-01-20T00:00:00Z")
    assert resolve_commit(repo, None, "2026-01-24").hexsha == git(shallow, "rev-parse", "HEAD")


def test_a_long_revision_or_moment_is_echoed_short_and_escaped(history: GitRepoBuilder) -> None:
    repo = open_repo(str(history.path))
    with pytest.raises(DriftcheckError) as failure:
        resolve_commit(repo, "\x1b[2J" + "r" * 100_000)
    message = str(failure.value)
    assert len(message) < 200 and message.startswith("--revision \\x1b[2Jrrr") and "r…: no such" in message
    with pytest.raises(DriftcheckError) as failure:
        parse_moment("2026-" + "1" * 100_000)
    assert len(str(failure.value)) < 300 and "…" in str(failure.value)
