"""`driftcheck history` as a user runs it: on the corpus, on a shallow clone, and with bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import git
import pytest

from driftcheck.apps import path_app
from driftcheck.fetch.tree import CommitTree
from driftcheck.live.snapshot import write_snapshot
from driftcheck.model import LiveState, Origin, Resource, ResourceKey
from driftcheck.render import render_app
from testing.livify import livify

BLOG = "services/blog-system"


def driftcheck(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "driftcheck.cli", "history", *args],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr
    return proc


def git_out(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def blog_json(corpus_repo: Path) -> dict[str, Any]:
    proc = driftcheck("--repo", str(corpus_repo), "--path", BLOG, "-n", "blog-system", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_json_lists_the_newest_image_bump_with_its_dates_and_tags(corpus_repo: Path,
                                                                  blog_json: dict[str, Any]) -> None:
    [app] = blog_json["apps"]
    newest = app["events"][0]
    sha, date, subject = git_out(corpus_repo, "log", "-1", "--format=%H%x00%cI%x00%s", "--", BLOG).split("\0")
    assert (newest["commit"], newest["date"], newest["message"]) == (sha, date, subject)
    tag = subject.rsplit(" ", 1)[1]  # "chore: Update WEB image to v145"
    previous = f"v{int(tag[1:]) - 1}"
    assert newest["images"] == [{"resource": "Rollout.argoproj.io/blog-system/web", "container": "nginx",
                                 "from": f"ghcr.io/wlals2/blog-web:{previous}",
                                 "to": f"ghcr.io/wlals2/blog-web:{tag}"}]


def test_rollback_is_marked_in_every_format(corpus_repo: Path, blog_json: dict[str, Any]) -> None:
    rollback = next(e for e in blog_json["apps"][0]["events"] if e["message"].startswith("rollback:"))
    assert rollback["restores"] and rollback["replicas"][0]["from"] == 3
    for fmt in ("table", "md"):
        proc = driftcheck("--repo", str(corpus_repo), "--path", BLOG, "-n", "blog-system", "-o", fmt,
                          "--until", "2026-01-20T10:40:00+09:00")
        assert proc.returncode == 0, proc.stderr
        assert "replicas Deployment.apps/blog-system/web: 3 → 2" in proc.stdout
        assert f"restores the state of {rollback['restores'][:12]}" in proc.stdout


def test_app_from_the_argocd_applications_and_filters(corpus_repo: Path) -> None:
    proc = driftcheck("--repo", str(corpus_repo), "--argocd-apps", "argocd/*.yaml", "--app", "blog-system",
                      "--since", "2026-02-06", "--until", "2026-02-06T23:59:59+09:00",
                      "--author", "github-actions", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    [app] = json.loads(proc.stdout)["apps"]
    expected = git_out(corpus_repo, "log", "--format=%H", "--since", "2026-02-06T00:00:00Z", "--until",
                       "2026-02-06T23:59:59+09:00", "--author", "github-actions", "--", BLOG).split()
    assert (app["app"], app["path"]) == ("blog-system", BLOG)
    assert [e["commit"] for e in app["events"]] == expected


def test_shallow_clone_says_where_history_stops(corpus_repo: Path, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "5", f"file://{corpus_repo}", str(shallow)], check=True)
    proc = driftcheck("--repo", str(shallow), "--path", BLOG)
    assert proc.returncode == 0, proc.stderr
    boundary = git_out(shallow, "rev-parse", "HEAD~4")
    assert f"history stops at the shallow boundary, commit {boundary[:12]}" in proc.stdout
    assert proc.stdout.count("chore: Update WEB image") <= 4


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "2026-02-01", "--until", "2026-01-01"], "--since 2026-02-01 is after --until 2026-01-01"),
    (["--since", "last tuesday"], "--since 'last tuesday': not a date"),
    (["--app", "nope", "--argocd-apps", "argocd/*.yaml"], "--app nope: no such app"),
    (["--path", "no/such/dir"], "no manifests"),
    (["--revision", "no-such-branch"], "no-such-branch"),
])
def test_bad_input_is_one_line_and_exit_2(corpus_repo: Path, args: list[str], message: str) -> None:
    base = [] if "--app" in args or "--path" in args else ["--path", BLOG]
    proc = driftcheck("--repo", str(corpus_repo), *base, *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""


def test_check_reports_the_commit_an_old_live_image_matches(corpus_repo: Path, tmp_path: Path) -> None:
    """The audit's live_commit: a Rollout running an image Git replaced long ago points at that past."""
    repo = git.Repo(corpus_repo)
    rendered = render_app(CommitTree(repo, repo.head.commit), path_app("blog-system", BLOG, "blog-system"))
    live = livify([r.body for r in rendered.resources], app="blog-system", namespace="blog-system",
                  applied_at=datetime.fromisoformat("2026-02-07T12:00:00+09:00"))
    web = next(o for o in live if o["kind"] == "Rollout" and o["metadata"]["name"] == "web")
    web["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/wlals2/blog-web:v11"
    write_snapshot(LiveState(resources=[Resource(ResourceKey.of(o), o["apiVersion"], o, Origin("snapshot"))
                                        for o in live]), tmp_path / "live.yaml", include_secret_values=True)
    subprocess.run([sys.executable, "-m", "driftcheck.cli", "check", "--repo", str(corpus_repo), "--path",
                    BLOG, "-n", "blog-system", "--live-snapshot", str(tmp_path / "live.yaml"), "--out",
                    str(tmp_path / "out"), "--format", "json", "-o", "none"], capture_output=True,
                   timeout=120)
    report = json.loads(next((tmp_path / "out").rglob("report.json")).read_text())
    [drifted] = [r for r in report["resources"] if r["status"] == "drifted"]
    # oracle: v11 was replaced by the first later commit whose diff drops it; the match is the last
    # commit touching the app (then the blog-system directory) before that one
    replaced_by = git_out(corpus_repo, "log", "--reverse", "--format=%H", "-G", r"blog-web:v11$", "--",
                          "blog-system").split()[1]
    expected = git_out(corpus_repo, "log", "-1", "--format=%H %cI", f"{replaced_by}^", "--", "blog-system")
    assert (drifted["kind"], drifted["name"]) == ("Rollout", "web")
    assert [drifted["live_commit"]["commit"], drifted["live_commit"]["date"]] == expected.split()
