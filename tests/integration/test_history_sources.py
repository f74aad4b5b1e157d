"""The history of an app of another Git repository (served by `git daemon`) comes from that repository at
its source's revision, with the Application's own revision bumps; through `history` and `check`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftcheck.live.snapshot import write_snapshot
from driftcheck.model import LiveState, Origin, Resource, ResourceKey
from testing.loopback import free_port, serve_git
from tests.conftest import GitRepoBuilder


def deployment(image: str) -> str:
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": "web", "namespace": "web"},
                           "spec": {"replicas": 1, "template": {"spec": {"containers": [
                               {"name": "web", "image": image}]}}}})


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
MAIN = "https://git.example.com/platform/main.git"  # this repository, as its Applications name it


def application(url: str, revision: str, name: str = "web", path: str = "deploy") -> str:
    return yaml.safe_dump({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                           "metadata": {"name": name, "namespace": "argocd"},
                           "spec": {"source": {"repoURL": url, "targetRevision": revision, "path": path},
                                    "destination": {"namespace": "web"}}})


@dataclass
class World:
    main: Path
    url: str
    shas: dict[str, str]
    cache: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """other.git: web:1.0 (Jan 10, tag v1.0.0) → web:2.0 (Jan 20, tag v2.0.0) → web:3.0 (Feb 1, main only).
    main: the Application at `main` (Jan 9), then pinned to v2.0.0 (Jan 25)."""
    tmp = tmp_path_factory.mktemp("history-sources")
    other = GitRepoBuilder(tmp / "other")
    shas = {"one": other.commit({"deploy/web.yaml": deployment("web:1.0")}, "web 1.0",
                                date="2026-01-10T10:00:00+00:00")}
    subprocess.run(["git", "tag", "v1.0.0"], cwd=other.path, check=True)
    shas["two"] = other.commit({"deploy/web.yaml": deployment("web:2.0")}, "web 2.0",
                               date="2026-01-20T10:00:00+00:00", author="Rel <rel@example.com>")
    subprocess.run(["git", "tag", "v2.0.0"], cwd=other.path, check=True)
    shas["three"] = other.commit({"deploy/web.yaml": deployment("web:3.0")}, "web 3.0",
                                 date="2026-02-01T10:00:00+00:00")
    url, daemon = serve_git(other.path, tmp / "served", "other.git")
    main = GitRepoBuilder(tmp / "main")
    shas["declared"] = main.commit({"argocd/web.yaml": application(url, "main"),
                                    "argocd/local.yaml": application(MAIN, "main", "local", "local"),
                                    "local/cm.yaml": CONFIGMAP},
                                   "add web", date="2026-01-09T10:00:00+00:00")
    shas["pinned"] = main.commit({"argocd/web.yaml": application(url, "v2.0.0")}, "pin web to v2.0.0",
                                 date="2026-01-25T10:00:00+00:00", author="Ops <ops@example.com>")
    unreachable = f"git://127.0.0.1:{free_port()}/gone.git"
    main.commit({"argocd/gone.yaml": application(unreachable, "main", "gone")}, "add gone",
                date="2026-01-26T10:00:00+00:00")
    try:
        yield World(main.path, url, shas, tmp / "cache")
    finally:
        daemon.terminate()
        daemon.wait()


def history(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "driftcheck.cli", "history", "--repo", str(world.main),
                           "--argocd-apps", "argocd/*.yaml", "--repo-url", MAIN, "--cache-dir",
                           str(world.cache), *args],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr
    return proc


def apps(world: World) -> dict[str, dict[str, Any]]:
    proc = history(world, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    return {a["app"]: a for a in json.loads(proc.stdout)["apps"]}


def test_an_app_of_another_repository_has_that_repositorys_deploys_at_its_revision(world: World) -> None:
    web = apps(world)["web"]
    assert web["source"] == f"{world.url} at {world.shas['two'][:12]}"
    order = ("pinned", "two", "one", "declared")
    assert [e["commit"] for e in web["events"]] == [world.shas[k] for k in order]
    pinned, two = web["events"][0], web["events"][1]
    assert pinned["author"] == "Ops <ops@example.com>" and pinned["files"] == ["argocd/web.yaml"]
    assert [(s["kind"], s["name"], s["from"], s["to"]) for s in pinned["sources"]] == [
        ("source", world.url, "main", "v2.0.0")]
    assert two["author"] == "Rel <rel@example.com>"
    assert [(i["from"], i["to"]) for i in two["images"]] == [("web:1.0", "web:2.0")]
    assert all("web:3.0" not in json.dumps(e) for e in web["events"])  # after v2.0.0, on main only


def test_the_text_says_which_revision_the_application_moved_to(world: World) -> None:
    proc = history(world)
    assert proc.returncode == 0, proc.stderr
    assert f"source {world.url} main → v2.0.0" in proc.stdout
    assert "web: web:1.0 → web:2.0" in proc.stdout
    assert f"app web (deploy in {world.url} at {world.shas['two'][:12]})" in proc.stdout


def test_an_unreachable_repository_is_that_apps_error_and_the_others_are_shown(world: World) -> None:
    found = apps(world)
    gone = found["gone"]
    assert "gone.git" in gone["errors"][0]["message"]
    assert [e["message"] for e in gone["events"]] == ["add gone"]  # its declaration still has a history
    assert found["web"]["events"]
    assert "source" not in found["local"]  # an app of this repository reads as it always has
    assert [e["message"] for e in found["local"]["events"]] == ["add web"]


def test_check_reports_the_other_repositorys_deploys_and_the_commit_live_matches(world: World,
                                                                               tmp_path: Path) -> None:
    live = tmp_path / "live.yaml"
    body = yaml.safe_load(deployment("web:1.0"))  # what was deployed before the pin: the first commit
    write_snapshot(LiveState(resources=[Resource(ResourceKey.of(body), "apps/v1", body, Origin("snapshot"))]),
                   live)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "driftcheck.cli", "check", "--repo", str(world.main),
                           "--argocd-apps", "argocd/*.yaml", "--repo-url", MAIN, "--cache-dir",
                           str(world.cache), "--live-snapshot", str(live), "--history-since", "2026-01-01",
                           "--out", str(out), "--format", "json", "-o", "none"],
                          capture_output=True, text=True, timeout=180)
    assert "Traceback" not in proc.stderr
    report = json.loads(next(out.rglob("report.json")).read_text())
    history = {e["commit"]: e for e in report["history"] if e["app"] == "web"}
    assert set(history) == {world.shas[k] for k in ("pinned", "two", "one", "declared")}
    assert history[world.shas["pinned"]]["sources"][0]["to"] == "v2.0.0"
    assert "sources" not in history[world.shas["two"]]
    [web] = [r for r in report["resources"] if r["kind"] == "Deployment"]
    assert web["status"] == "drifted"
    assert web["live_commit"]["commit"] == world.shas["one"]
