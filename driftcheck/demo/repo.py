"""The bundled example GitOps repository: replays `repo/commits.yaml` into a real Git repository.

Commits are made one at a time with the recorded authors and dated committer times (offsets kept),
so a revert's `This reverts commit <sha>.` names the real sha of the commit it reverts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

DEMO_APP = "shop"
DEMO_NAMESPACE = "shop"
DEMO_APP_PATH = "apps/shop"
DEMO_ARGOCD_APP = "argocd/demo-app.yaml"
DEMO_REPO_URL = "https://git.example.com/platform/shop-gitops.git"  # the Application's spec.source.repoURL


def _data_dir() -> Path:
    return Path(str(resources.files("driftcheck.demo") / "repo"))


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git isolated from the user's and the system's configuration (no signing, no hooks)."""
    full_env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, **(env or {})}
    out = subprocess.run(["git", *args], cwd=cwd, env=full_env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _identity_env(author: str, date: str) -> dict[str, str]:
    name, _, email = author.partition(" <")
    email = email.rstrip(">")
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": date}


def _apply_change(dest: Path, data: Path, step: dict[str, Any]) -> None:
    if "tree" in step:
        shutil.copytree(data / step["tree"], dest, dirs_exist_ok=True)
    for rel in step.get("delete", []):
        (dest / rel).unlink()
    for rel, edits in (step.get("replace") or {}).items():
        target = dest / rel
        text = target.read_text()
        for old, new in edits:
            if old not in text:
                raise ValueError(f"demo commit {step['id']}: {old!r} not found in {rel}")
            text = text.replace(old, new, 1)
        target.write_text(text)


def demo_commits() -> list[dict[str, Any]]:
    """The recorded history, as written in commits.yaml."""
    recorded = YAML(typ="safe").load((_data_dir() / "commits.yaml").read_text())
    commits: list[dict[str, Any]] = recorded["commits"]
    return commits


def materialize_demo_repo(dest: Path) -> Path:
    """Build the demo repository at `dest` (created; must not exist or be empty) and return its path."""
    data = _data_dir()
    dest.mkdir(parents=True, exist_ok=True)
    _git(dest, "init", "-q", "-b", "main")
    made: dict[str, str] = {}  # commit id -> sha
    for step in demo_commits():
        env = _identity_env(step["author"], step["date"])
        if "revert" in step:
            _git(dest, "revert", "--no-edit", made[step["revert"]], env=env)
        else:
            _apply_change(dest, data, step)
            _git(dest, "add", "-A")
            _git(dest, "commit", "-q", "-m", step["message"], env=env)
        made[step["id"]] = _git(dest, "rev-parse", "HEAD")
    return dest
