"""Deploy history on the real corpus, checked against what plain `git log --follow` and `git show` say."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import git
import pytest
from ruamel.yaml import YAML

from driftcheck.apps import path_app
from driftcheck.history import HistoryResult, app_history, match_live_commit
from driftcheck.model import FieldDiff, Origin, Resource, ResourceKey, ResourceResult

WEB_NOW = "services/blog-system/web/web-rollout.yaml"
BLOG = path_app("blog-system", "services/blog-system", "blog-system")


def git_out(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def web_image(repo: Path, commit: str, path: str) -> str:
    """The nginx image of the web workload in `path` at `commit`, read with `git show`."""
    for doc in YAML(typ="safe").load_all(git_out(repo, "show", f"{commit}:{path}")):
        if isinstance(doc, dict) and doc.get("kind") in ("Deployment", "Rollout"):
            pod = doc["spec"]["template"]["spec"]
            return next(c["image"] for c in pod["containers"] if c["name"] == "nginx")
    raise AssertionError(f"no web workload in {commit}:{path}")


def follow_oracle(repo: Path) -> list[tuple[str, str, str, str]]:
    """(commit, committer date, from, to) for every commit `git log --follow` says changed the web image."""
    out = git_out(repo, "log", "--follow", "-M", "--name-status", "--format=%x01%H %cI", "--", WEB_NOW)
    expected = []
    for chunk in out.split("\x01")[1:]:
        header, *lines = [line for line in chunk.splitlines() if line.strip()]
        sha, date = header.split()
        status, *paths = lines[0].split("\t")
        new_path, old_path = paths[-1], (paths[0] if status.startswith("R") else paths[-1])
        before = "" if status == "A" else web_image(repo, f"{sha}^", old_path)
        after = web_image(repo, sha, new_path)
        if before != after:
            expected.append((sha, date, before, after))
    return expected


@pytest.fixture(scope="module")
def blog_history(corpus_repo: Path) -> HistoryResult:
    return app_history(git.Repo(corpus_repo), BLOG)


def web_images(history: HistoryResult) -> list[tuple[str, str, str, str]]:
    return [(e.commit, e.date, i["from"], i["to"]) for e in history.events for i in e.images
            if i["resource"].endswith("/blog-system/web") and i["container"] == "nginx"]


def event(history: HistoryResult, subject: str) -> Any:
    return next(e for e in history.events if e.message == subject)


def test_web_image_history_follows_every_move(corpus_repo: Path, blog_history: HistoryResult) -> None:
    expected = follow_oracle(corpus_repo)
    paths = set(git_out(corpus_repo, "log", "--follow", "--name-only", "--format=", "--", WEB_NOW).split())
    assert {"blog-system/web-deployment.yaml", "blog-system/web-rollout.yaml",
            "services/blog-system/web-rollout.yaml", WEB_NOW} <= paths  # the oracle itself crossed every move
    assert len(expected) > 100
    assert web_images(blog_history) == expected


def test_dates_keep_the_committer_offset(corpus_repo: Path, blog_history: HistoryResult) -> None:
    newest = blog_history.events[0]
    assert newest.date == git_out(corpus_repo, "log", "-1", "--format=%cI", newest.commit).strip()
    assert all(e.date.endswith("+09:00") for e in blog_history.events)
    assert newest.author == git_out(corpus_repo, "log", "-1", "--format=%an <%ae>", newest.commit).strip()


def test_migration_to_rollout_shows_the_kind_change(corpus_repo: Path, blog_history: HistoryResult) -> None:
    sha = git_out(corpus_repo, "log", "--format=%H", "--grep", "Migrate web Deployment to Argo").strip()
    migration = next(e for e in blog_history.events if e.commit == sha)
    web = next(r for r in migration.resources if r["name"] == "web" and r["namespace"] == "blog-system")
    assert (web["change"], web["from_kind"], web["kind"]) == ("kind-changed", "Deployment", "Rollout")
    assert "blog-system/web-deployment.yaml → blog-system/web-rollout.yaml" in migration.files


def test_rollback_shows_replicas_and_restores_the_earlier_state(corpus_repo: Path,
                                                               blog_history: HistoryResult) -> None:
    line = next(entry for entry in git_out(corpus_repo, "log", "--oneline", "--no-abbrev-commit").splitlines()
                if "rollback: web replicas" in entry.lower())
    rollback = next(e for e in blog_history.events if e.commit == line.split()[0])
    assert rollback.replicas == [{"resource": "Deployment.apps/blog-system/web", "from": 3, "to": 2}]
    # the state it restores is the one just before the scale-up: the scale-up's parent
    scale_up = git_out(corpus_repo, "rev-parse", f"{rollback.commit}^").strip()
    assert rollback.restores == git_out(corpus_repo, "rev-parse", f"{scale_up}^").strip()
    assert event(blog_history, "scale: web replicas 2 → 3 (GitOps 테스트)").restores is None


def test_live_image_matched_to_the_newest_commit_that_had_it(corpus_repo: Path,
                                                             blog_history: HistoryResult) -> None:
    v11 = "ghcr.io/wlals2/blog-web:v11"
    replaced_by = next(sha for sha, _, before, _ in follow_oracle(corpus_repo) if before == v11)
    # the app was the blog-system directory then: its last change before v11 was replaced
    expected = git_out(corpus_repo, "log", "-1", "--format=%H %cI", f"{replaced_by}^", "--",
                       "blog-system").split()
    key = ResourceKey("argoproj.io", "Rollout", "blog-system", "web")
    live_body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                 "metadata": {"name": "web", "namespace": "blog-system"},
                 "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": v11}]}}}}
    result = ResourceResult(key=key, app="blog-system", status="drifted", diffs=[
        FieldDiff("/spec/template/spec/containers/0/image", "ghcr.io/wlals2/blog-web:v145", v11)])
    live = Resource(key, "argoproj.io/v1alpha1", live_body, Origin("snapshot"))

    match = match_live_commit(blog_history, result, live)

    assert match is not None
    assert [match["commit"], match["date"]] == expected
    newer = git_out(corpus_repo, "rev-list", "--count", f"{match['commit']}..HEAD").strip()
    assert 0 < match["behind"] <= int(newer)
    assert match["behind"] == sum(1 for e in blog_history.events if e.date > match["date"])


def test_live_value_git_never_had_matches_nothing(blog_history: HistoryResult) -> None:
    key = ResourceKey("argoproj.io", "Rollout", "blog-system", "web")
    live_body = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "evil:latest"}]}}}}
    result = ResourceResult(key=key, app="blog-system", status="drifted", diffs=[
        FieldDiff("/spec/template/spec/containers/0/image", "ghcr.io/wlals2/blog-web:v145", "evil:latest")])
    assert match_live_commit(blog_history, result, Resource(key, "", live_body, Origin("snapshot"))) is None
