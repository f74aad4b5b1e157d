"""CommitTree reads one commit from Git objects; export writes it out without ever leaving the tree."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from driftcheck.model import DriftcheckError
from driftcheck.source.repo import open_repo, resolve_commit
from driftcheck.source.tree import CommitTree

if TYPE_CHECKING:
    from conftest import GitRepoBuilder  # the git_repo fixture's type (tests/conftest.py)


def tree_at(repo: GitRepoBuilder, revision: str = "HEAD") -> CommitTree:
    r = open_repo(str(repo.path))
    return CommitTree(r, resolve_commit(r, revision))


def test_reads_the_commit_not_the_work_tree(git_repo: GitRepoBuilder) -> None:
    first = git_repo.commit({"app/a.yaml": "v: 1\n", "app/sub/b.yaml": "v: 2\n", "top.txt": "x"}, "one",
                            date="2026-01-20T16:29:44+09:00")
    git_repo.commit({"app/a.yaml": "v: 3\n", "app/sub/b.yaml": None}, "two")
    (git_repo.path / "app" / "a.yaml").write_text("v: dirty\n")
    tree = tree_at(git_repo, first)
    assert tree.sha == first and tree.date == "2026-01-20T16:29:44+09:00"
    assert tree.read("app/a.yaml") == b"v: 1\n" and tree.read("./app//sub/b.yaml") == b"v: 2\n"
    assert tree.exists("app/sub") and tree.is_dir("app/sub") and not tree.is_dir("app/a.yaml")
    assert not tree.exists("app/c.yaml")
    assert tree.list_files("app") == ["app/a.yaml"]
    assert tree.list_files("app", recurse=True) == ["app/a.yaml", "app/sub/b.yaml"]
    assert tree.list_files("", recurse=False) == ["top.txt"]
    assert tree.list_files("missing") == []
    with pytest.raises(DriftcheckError, match=r"app/c\.yaml: no such file"):
        tree.read("app/c.yaml")
    assert tree_at(git_repo).read("app/a.yaml") == b"v: 3\n"


def test_export_writes_the_subtree_with_modes(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    git_repo.commit({"app/a.yaml": "a\n", "app/run.sh": "#!/bin/sh\n", "other/b.yaml": "b\n"}, "one")
    os.chmod(git_repo.path / "app" / "run.sh", 0o755)
    git_repo.commit({}, "exec bit")
    errors = tree_at(git_repo).export(tmp_path / "out", "app")
    assert errors == []
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*")) == [
        "a.yaml", "run.sh"]
    assert os.access(tmp_path / "out" / "run.sh", os.X_OK)


def test_export_never_leaves_the_tree_through_symlinks(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    """Each link is judged by where it really leads, chains included: `esc -> a/up/..` with `a/up -> ..`
    looks inside by its text but resolves outside."""
    git_repo.commit({"a/file.yaml": "x\n", "b/keep.yaml": "y\n"}, "files")
    links = {"a/up": "..", "esc": "a/up/..", "abs": "/etc", "ok": "a/file.yaml", "b/rel": "../a/file.yaml"}
    for link, target in links.items():
        os.symlink(target, git_repo.path / link)
    git_repo.commit({}, "links")
    dest = tmp_path / "export"
    errors = tree_at(git_repo).export(dest)
    assert sorted(e.file for e in errors) == ["abs", "esc"]
    assert all("outside" in e.message for e in errors)
    assert not (dest / "esc").exists() and not (dest / "abs").is_symlink()
    assert (dest / "ok").read_text() == "x\n" and (dest / "b" / "rel").read_text() == "x\n"
    for p in dest.rglob("*"):
        assert Path(os.path.realpath(p)).is_relative_to(dest.resolve()), p


def test_export_of_a_missing_directory_is_an_error(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    git_repo.commit({"a.yaml": "x\n"}, "one")
    with pytest.raises(DriftcheckError, match="no such directory"):
        tree_at(git_repo).export(tmp_path / "o", "nope")


def test_bare_repository(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    sha = git_repo.commit({"app/a.yaml": "x\n"}, "one")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo.path), str(bare)], check=True)
    r = open_repo(str(bare))
    tree = CommitTree(r, resolve_commit(r, sha))
    assert tree.read("app/a.yaml") == b"x\n"
    assert tree.export(tmp_path / "o") == [] and (tmp_path / "o" / "app" / "a.yaml").read_text() == "x\n"
