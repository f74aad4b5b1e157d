"""Fixtures shared by all tests: the corpus clone and throwaway Git repositories with dated commits."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from testing import planted

CORPUS_BUNDLE = Path(__file__).resolve().parents[1] / "testing" / "data" / "k8s-manifests.bundle"


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git in cwd and return its stdout; fails the test loudly on error."""
    full_env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", **(env or {})}
    out = subprocess.run(["git", *args], cwd=cwd, env=full_env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


@pytest.fixture(scope="session")
def corpus_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of the real GitOps corpus (308 commits). Read-only by convention: do not commit to it."""
    if not CORPUS_BUNDLE.exists():
        pytest.fail(f"corpus bundle not found at {CORPUS_BUNDLE}")
    dest = tmp_path_factory.mktemp("corpus") / "k8s-manifests"
    subprocess.run(["git", "clone", "-q", str(CORPUS_BUNDLE), str(dest)], check=True)
    return dest


class GitRepoBuilder:
    """Builds a real Git repository commit by commit, with chosen authors and dates."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", "main")

    def commit(self, files: dict[str, str | None], message: str, date: str = "2026-01-20T10:00:00+09:00",
               author: str = "Dev <dev@example.com>") -> str:
        """Write (or delete, for None) files and commit them; returns the commit sha."""
        for rel, text in files.items():
            target = self.path / rel
            if text is None:
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)
                continue
            planted.write_input(target, text)
        git(self.path, "add", "-A")
        name, email = author.split(" <")
        email = email.rstrip(">")
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date,
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": date}
        git(self.path, "commit", "-q", "--allow-empty", "-m", message, env=env)
        return git(self.path, "rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepoBuilder:
    return GitRepoBuilder(tmp_path / "repo")


@pytest.fixture
def require() -> Callable[[bool, str], None]:
    """Skip a test on a developer machine that lacks a prerequisite (root, sshd, the Helm SDK); under CI,
    which installs them all, the same gap fails the test instead of hiding it."""

    def check(available: bool, why: str) -> None:
        if not available:
            (pytest.fail if os.environ.get("CI") else pytest.skip)(why)

    return check


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No planted secret, token or key in any file the suite's runs wrote (reports, snapshots, rendered
    trees, logs, captured CLI output): the README's promise, checked over the whole suite."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    base = factory.getbasetemp()
    planted.save(base)
    if hasattr(session.config, "workerinput"):     # a pytest-xdist worker: the controller scans for all
        return
    planted.load(base)
    found = planted.leaks(base)
    if found:
        writer = session.config.get_terminal_writer()
        writer.line("planted secrets found in outputs:\n  " + "\n  ".join(found), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
