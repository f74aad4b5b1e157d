"""Hostile Git trees through the real CLI: a pushed commit must never make `render` or `check` write outside
their export and output, plant a hook in the clone cache, or run one; each refused entry is named.

The trees come from `testing.crafted_git`, so a new renderer or provider adds its app layout here and
inherits every case. The export directory is `$TMPDIR/driftcheck-export-XXXX/repo`, so a path
`evil/../../../X` in the tree would be `$TMPDIR/X`: each run gets its own TMPDIR to make that a known place.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing import planted
from testing.crafted_git import CraftedRepo, Entry, file_entry, hook_entry, link_entry, tree_entry
from testing.loopback import silent_http_remote

HOOK = "reference-transaction"  # run by every ref update, so by every fetch


@dataclass
class Sandbox:
    """Where one test's runs may write, and what they must leave alone."""

    root: Path

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def cache(self) -> Path:
        return self.tmp / "cache"  # inside TMPDIR, so a climbing path can reach it

    @property
    def proof(self) -> Path:
        return self.root / "hook-ran.txt"

    def env(self) -> dict[str, str]:
        self.tmp.mkdir(parents=True, exist_ok=True)
        return {"TMPDIR": str(self.tmp), "XDG_CACHE_HOME": str(self.cache), "HOME": str(self.root / "home")}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return planted.run_cli(list(args), self.root / "logs", env=self.env())

    def hook_script(self) -> str:
        return f"#!/bin/sh\necho \"hook ran in $(pwd)\" >> {self.proof}\n"

    def clone_dir(self, url: str) -> Path:
        return self.cache / "driftcheck" / "repos" / hashlib.sha256(url.encode()).hexdigest()

    def files(self) -> set[Path]:
        """Every file and link under the sandbox but the runs' own logs."""
        return {p for p in self.root.rglob("*")
                if not p.is_dir() and "logs" not in p.relative_to(self.root).parts}


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def new_files(sandbox: Sandbox, before: set[Path], *allowed: Path) -> list[str]:
    """Files the runs added anywhere but under the allowed directories."""
    return sorted(str(p) for p in sandbox.files() - before if not any(p.is_relative_to(a) for a in allowed))


def hostile_cases(repo: CraftedRepo, sandbox: Sandbox) -> dict[str, tuple[list[Entry], str]]:
    """Root entries next to app/ (each a way out of the export), and the path the error must name."""
    outside = sandbox.root / "outside"
    outside.mkdir(exist_ok=True)
    blob = repo.blob("written outside the export\n")
    hook = repo.blob(sandbox.hook_script())
    return {
        # export/repo/evil/.. is export/repo, then export, then $TMPDIR, then the sandbox
        "dotdot": ([tree_entry("evil", repo.climb(4, "outside/PWNED", blob))], "evil/.."),
        "symlink-and-tree": ([link_entry("x", repo.blob(str(outside))),
                              tree_entry("x", repo.tree(file_entry("PWNED", blob)))], "x"),
        "absolute-name": ([file_entry(str(outside / "PWNED"), blob)], str(outside / "PWNED")),
        "dotgit-hook": ([tree_entry(".GIT", repo.nest(repo.tree(hook_entry(HOOK, hook)), "hooks"))], ".GIT"),
        "backslash-dotdot": ([file_entry("..\\..\\..\\outside\\PWNED", blob)], "..\\..\\..\\outside\\PWNED"),
    }


def crafted(sandbox: Sandbox, case: str) -> tuple[CraftedRepo, str, str]:
    """The repository of one case, its commit and the path its error must name."""
    repo = CraftedRepo.init(sandbox.root / "src")
    entries, refused = hostile_cases(repo, sandbox)[case]
    return repo, repo.commit(repo.tree(*repo.kustomize_app("app"), *entries)), refused


def climb_from_export(repo: CraftedRepo, relpath: str, blob: str, mode: str) -> Entry:
    """`evil/../../../<relpath>`: from $TMPDIR/driftcheck-export-XXXX/repo/evil up to $TMPDIR."""
    return tree_entry("evil", repo.climb(3, relpath, blob, mode))


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "crafted", "namespace": "demo"}}
    path = tmp_path / "live.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [live]}))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("case", ["dotdot", "symlink-and-tree", "absolute-name", "dotgit-hook",
                                  "backslash-dotdot"])
@pytest.mark.parametrize("command", ["render", "check"])
def test_a_crafted_tree_writes_nothing_outside_and_names_the_refused_path(sandbox: Sandbox, snapshot: Path,
                                                                          case: str, command: str) -> None:
    repo, sha, refused = crafted(sandbox, case)
    before = sandbox.files()
    out = sandbox.root / "out"
    args = ["--repo", str(repo.path), "--path", "app", "-n", "demo", "--out", str(out)]
    if command == "check":
        args += ["--live-snapshot", str(snapshot), "-o", "none"]
    result = sandbox.cli(command, *args)
    assert result.returncode == 0, result.stderr
    assert new_files(sandbox, before, out) == []
    assert list(sandbox.tmp.iterdir()) == [], "the export is gone and nothing else was left in TMPDIR"
    assert not sandbox.proof.exists()
    line = next(ln for ln in result.stderr.splitlines() if "not exported" in ln)
    assert line.startswith(f"{refused}: not exported") or f" {refused}: not exported" in line, line
    assert sha[:12] in line


def test_a_refused_path_inside_the_app_is_an_error_of_its_report(sandbox: Sandbox, snapshot: Path) -> None:
    repo = CraftedRepo.init(sandbox.root / "src")
    hook = repo.tree(hook_entry(HOOK, repo.blob(sandbox.hook_script())))
    repo.commit(repo.tree(*repo.kustomize_app("app", tree_entry(".git", repo.nest(hook, "hooks")))))
    out = sandbox.root / "out"
    result = sandbox.cli("check", "--repo", str(repo.path), "--path", "app", "-n", "demo",
                         "--live-snapshot", str(snapshot), "--out", str(out), "-o", "none")
    assert result.returncode == 2, result.stderr  # could not check everything: an entry was left out
    report = json.loads(next(out.rglob("report.json")).read_text())
    assert [e["file"] for e in report["errors"]] == ["app/.git"]
    assert "not exported" in report["errors"][0]["message"] and not sandbox.proof.exists()


def test_a_hook_aimed_at_the_clone_cache_is_never_written_nor_run(sandbox: Sandbox) -> None:
    """The red team's chain: one repository's tree climbs into another's clone cache to drop an
    executable reference-transaction hook; the next fetch of that clone would run it."""
    upstream = CraftedRepo.init(sandbox.root / "upstream")
    upstream.commit(upstream.tree(*upstream.kustomize_app("app")))
    out = sandbox.root / "out"
    first = sandbox.cli("render", "--repo", upstream.url, "--path", "app", "-n", "demo", "--out", str(out))
    assert first.returncode == 0, first.stderr
    clone = sandbox.clone_dir(upstream.url)
    hooks_before = sorted(p.name for p in (clone / "hooks").iterdir()) if (clone / "hooks").exists() else []

    attacker = CraftedRepo.init(sandbox.root / "attacker")
    target = f"{clone.relative_to(sandbox.tmp)}/hooks/{HOOK}"
    evil = climb_from_export(attacker, target, attacker.blob(sandbox.hook_script()), "100755")
    attacker.commit(attacker.tree(*attacker.kustomize_app("app"), evil))
    attack = sandbox.cli("render", "--repo", str(attacker.path), "--path", "app", "-n", "demo",
                         "--out", str(sandbox.root / "out-attacker"))
    assert attack.returncode == 0 and "evil/..: not exported" in attack.stderr, attack.stderr
    hooks_after = sorted(p.name for p in (clone / "hooks").iterdir()) if (clone / "hooks").exists() else []
    assert hooks_after == hooks_before and HOOK not in hooks_after

    upstream.commit(upstream.tree(*upstream.kustomize_app("app")), "next")
    again = sandbox.cli("render", "--repo", upstream.url, "--path", "app", "-n", "demo", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert not sandbox.proof.exists()


def test_a_hook_already_in_the_clone_cache_is_not_run_by_the_fetch(sandbox: Sandbox) -> None:
    """A cache poisoned before this fix (or by anyone who could write it): fetches run with hooks off."""
    upstream = CraftedRepo.init(sandbox.root / "upstream")
    upstream.commit(upstream.tree(*upstream.kustomize_app("app")))
    out = sandbox.root / "out"
    assert sandbox.cli("render", "--repo", upstream.url, "--path", "app", "-n", "demo",
                       "--out", str(out)).returncode == 0
    hook = sandbox.clone_dir(upstream.url) / "hooks" / HOOK
    hook.write_text(sandbox.hook_script())
    hook.chmod(0o755)
    upstream.commit(upstream.tree(*upstream.kustomize_app("app")), "next")
    again = sandbox.cli("render", "--repo", upstream.url, "--path", "app", "-n", "demo", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert not sandbox.proof.exists()
    subprocess.run(["git", "--git-dir", str(hook.parent.parent), "update-ref", "refs/x", "HEAD"], check=True)
    assert sandbox.proof.exists(), "the planted hook does run under plain git: the test would see it run"


def test_a_crafted_commit_pushed_after_a_clean_clone_never_enters_the_cache(sandbox: Sandbox) -> None:
    """Clone and fetch check objects as git fsck does: the run falls back to the cached clone, says why."""
    upstream = CraftedRepo.init(sandbox.root / "upstream")
    clean = upstream.commit(upstream.tree(*upstream.kustomize_app("app")))
    out = sandbox.root / "out"
    assert sandbox.cli("render", "--repo", upstream.url, "--path", "app", "-n", "demo",
                       "--out", str(out)).returncode == 0
    target = f"{sandbox.clone_dir(upstream.url).relative_to(sandbox.tmp)}/hooks/{HOOK}"
    evil = climb_from_export(upstream, target, upstream.blob(sandbox.hook_script()), "100755")
    evil_commit = upstream.commit(upstream.tree(*upstream.kustomize_app("app"), evil), "evil")
    before = sandbox.files()
    again = sandbox.cli("render", "--repo", upstream.url, "--path", "app", "-n", "demo", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "fails Git's object check (hasDotdot" in again.stderr and "using the cached clone" in again.stderr
    assert f"at {clean[:12]}" in again.stderr
    clone = sandbox.clone_dir(upstream.url)
    assert new_files(sandbox, before, out, clone) == [] and not sandbox.proof.exists()
    assert subprocess.run(["git", "--git-dir", str(clone), "cat-file", "-e", evil_commit]).returncode != 0


def test_a_long_revision_is_echoed_cut_short_and_escaped(sandbox: Sandbox) -> None:
    repo = CraftedRepo.init(sandbox.root / "src")
    repo.commit(repo.tree(*repo.kustomize_app("app")))
    revision = "\x1b]0;owned\x07" + "a" * 100_000
    result = sandbox.cli("render", "--repo", str(repo.path), "--revision", revision, "--path", "app",
                         "-n", "demo", "--out", str(sandbox.root / "out"))
    assert result.returncode == 2
    assert len(result.stderr) < 400 and "\x1b" not in result.stderr
    assert "--revision \\x1b]0;owned\\x07aaaa" in result.stderr and "a…: no such branch" in result.stderr
    at = sandbox.cli("render", "--repo", str(repo.path), "--at", "2026-" + "9" * 100_000, "--path", "app",
                     "-n", "demo", "--out", str(sandbox.root / "out"))
    assert at.returncode == 2 and len(at.stderr) < 400 and "…" in at.stderr


@pytest.fixture
def silent_remote() -> Iterator[str]:
    """An HTTP remote that accepts connections and never answers: a clone that hangs until killed."""
    with silent_http_remote() as url:
        yield url


def _processes() -> list[tuple[int, str, str, int, int]]:
    """(pid, name, state, parent pid, process group) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            found.append((int(entry.name), name, rest[0], int(rest[1]), int(rest[2])))
    return found


def test_sigterm_during_a_clone_leaves_no_git_behind(sandbox: Sandbox, silent_remote: str) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "driftcheck.cli", "render", "--repo", silent_remote,
                             "--path", "app", "-n", "demo", "--out", str(sandbox.root / "out")],
                            env={**os.environ, **sandbox.env()}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    # the clone leads its own process group; a short `git version` GitPython runs at import does not
    while not (gits := [p for p in _processes() if p[1] == "git" and p[3] == proc.pid and p[4] == p[0]]):
        assert time.monotonic() < deadline, "git clone never started"
        time.sleep(0.05)
    group = gits[0][4]
    while len([p for p in _processes() if p[4] == group]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # git, its transport and git-remote-http: the helper that would be orphaned
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode != 0 and "Traceback" not in stderr
    time.sleep(0.3)
    # Killed processes whose parent is gone wait for init to reap them (zombies); none may still run.
    assert [p for p in _processes() if p[4] == group and p[2] != "Z"] == []
    assert not sandbox.cache.exists() or not any(sandbox.cache.rglob("HEAD")), "no half clone is left"
