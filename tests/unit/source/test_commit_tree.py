"""CommitTree reads one commit from Git objects; export writes it out without ever leaving the tree."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.tree import CommitTree
from driftcheck.model import DriftcheckError
from driftcheck.textsafe import for_terminal
from testing.crafted_git import CraftedRepo, Entry, file_entry, hook_entry, link_entry, tree_entry

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


REFUSED_NAMES = ["..", ".", ".git", ".GIT", ".Git", "git~1", "GIT~1", ".git.", ".git ", ".git. . ",
                 ".g\u200cit", "\ufeff.git", ".git::$INDEX_ALLOCATION", "..\\..\\x", "a\\.git", "", "a/b"]


@pytest.fixture
def repo(tmp_path: Path) -> CraftedRepo:
    return CraftedRepo.init(tmp_path / "crafted")


def crafted_tree(repo: CraftedRepo, *entries: Entry) -> CommitTree:
    """A commit of app/ok.yaml plus the given raw entries under app/."""
    ok = file_entry("ok.yaml", repo.blob("ok: 1\n"))
    sha = repo.commit(repo.tree(tree_entry("app", repo.tree(ok, *entries))))
    r = open_repo(str(repo.path))
    return CommitTree(r, resolve_commit(r, sha))


@pytest.mark.parametrize("name", REFUSED_NAMES, ids=repr)
def test_names_git_would_not_check_out_are_left_out_and_named(repo: CraftedRepo, tmp_path: Path,
                                                              name: str) -> None:
    """Each such entry (here a directory holding an executable hook) is reported with the commit; the rest
    of the tree reads and exports as usual, and nothing of it is written anywhere."""
    hook = repo.tree(hook_entry("post-checkout", repo.blob("#!/bin/sh\ntouch /tmp/hooked\n")))
    tree = crafted_tree(repo, tree_entry(name, repo.nest(hook, "hooks")))
    assert tree.list_files("app", recurse=True) == ["app/ok.yaml"]
    assert not tree.exists(f"app/{name}/hooks/post-checkout")
    dest = tmp_path / "export"
    errors = tree.export(dest)
    assert [e.file for e in errors] == [for_terminal(f"app/{name}")]
    assert tree.sha[:12] in errors[0].message and "not exported" in errors[0].message
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == ["app", "app/ok.yaml"]


def test_an_absolute_name_is_refused(repo: CraftedRepo, tmp_path: Path) -> None:
    """A root entry named `/…/PWNED` would make `dest / path` the absolute path itself."""
    victim = tmp_path / "victim" / "PWNED"
    sha = repo.commit(repo.tree(file_entry(str(victim), repo.blob("x\n"))))
    r = open_repo(str(repo.path))
    errors = CommitTree(r, resolve_commit(r, sha)).export(tmp_path / "export")
    assert [e.file for e in errors] == [str(victim)] and "'/'" in errors[0].message
    assert not victim.parent.exists()


@pytest.mark.parametrize("name", [".github", ".gitkeep", "git~2", ".gitx", "a\\b.yaml", "...", "..x", "café"])
def test_ordinary_names_that_look_close_are_kept(repo: CraftedRepo, tmp_path: Path, name: str) -> None:
    tree = crafted_tree(repo, file_entry(name, repo.blob("x\n")))
    assert tree.export(tmp_path / "export") == []
    assert (tmp_path / "export" / "app" / name).read_text() == "x\n"


def test_a_duplicate_name_is_refused_whole_even_a_symlink_and_a_directory(repo: CraftedRepo,
                                                                          tmp_path: Path) -> None:
    """`x -> outside` plus a directory `x` would write through the link; two `cm.yaml` would be ambiguous."""
    outside = tmp_path / "outside"
    outside.mkdir()
    through = repo.tree(file_entry("PWNED", repo.blob("through the link\n")))
    twice = [file_entry("cm.yaml", repo.blob("a: 1\n")), file_entry("cm.yaml", repo.blob("a: 2\n"))]
    tree = crafted_tree(repo, link_entry("x", repo.blob(str(outside))), tree_entry("x", through), *twice)
    errors = tree.export(tmp_path / "export")
    assert sorted(e.file for e in errors) == ["app/cm.yaml", "app/x"]
    assert all("appears twice" in e.message for e in errors)
    assert list(outside.iterdir()) == [] and not tree.exists("app/cm.yaml")
    assert tree.list_files("app", recurse=True) == ["app/ok.yaml"]


def test_a_symlinked_gitmodules_is_refused(repo: CraftedRepo, tmp_path: Path) -> None:
    tree = crafted_tree(repo, link_entry(".GITMODULES", repo.blob("ok.yaml")))
    assert [e.file for e in tree.export(tmp_path / "export")] == ["app/.GITMODULES"]


def test_a_write_whose_directory_really_lies_outside_is_refused(repo: CraftedRepo, tmp_path: Path) -> None:
    """The last line of defence: even a path that passed the name checks is written only when its real
    directory is inside the export (here the export's app/ was replaced by a link before the write)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "export"
    dest.mkdir()
    (dest / "app").symlink_to(outside)
    errors = crafted_tree(repo).export(dest)
    assert [(e.file, "outside the exported tree" in e.message) for e in errors] == [("app/ok.yaml", True)]
    assert list(outside.iterdir()) == []

