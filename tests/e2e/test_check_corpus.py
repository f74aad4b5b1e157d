"""`driftcheck check` on the real corpus against a snapshot that looks like the cluster ArgoCD synced."""

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
from driftcheck.report.json_report import schema_problems
from testing.livify import livify

APP, NAMESPACE, PATH = "blog-system", "blog-system", "services/blog-system"
SYNCED_AT = datetime.fromisoformat("2026-02-07T12:00:00+09:00")


def synced_cluster(repo: Path) -> list[dict[str, Any]]:
    """What `kubectl get -o yaml` shows once ArgoCD synced HEAD and the controllers reconciled."""
    rendered = render_app(CommitTree(git.Repo(repo), git.Repo(repo).head.commit),
                          path_app(APP, PATH, NAMESPACE))
    assert not rendered.errors and len(rendered.resources) > 30
    return livify([r.body for r in rendered.resources], app=APP, namespace=NAMESPACE, applied_at=SYNCED_AT)


def snapshot(objects: list[dict[str, Any]], dest: Path) -> Path:
    resources = [Resource(ResourceKey.of(o), o["apiVersion"], o, Origin("snapshot")) for o in objects]
    write_snapshot(LiveState(resources=resources, info={"context": "corpus", "server": "https://k8s:6443"}),
                   dest, include_secret_values=True)
    return dest


def check(repo: Path, snap: Path, out: Path) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "driftcheck.cli", "check", "--repo", str(repo), "--path", PATH,
         "-n", NAMESPACE, "--live-snapshot", str(snap), "--out", str(out), "--format", "json",
         "--history-since", "30d"],
        capture_output=True, text=True, timeout=120)
    reports = sorted(out.rglob("report.json"))
    assert reports, f"no report written; stderr:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    report = json.loads(reports[-1].read_text())
    assert schema_problems(report) == []  # every corpus-scenario report honours the v1 contract
    return proc.returncode, report


@pytest.fixture(scope="module")
def live_objects(corpus_repo: Path) -> list[dict[str, Any]]:
    return synced_cluster(corpus_repo)


def test_synced_cluster_is_all_in_sync(corpus_repo: Path, live_objects: list[dict[str, Any]],
                                       tmp_path: Path) -> None:
    code, report = check(corpus_repo, snapshot(live_objects, tmp_path / "live.yaml"), tmp_path / "out")
    statuses = {(r["kind"], r["name"]): r["status"] for r in report["resources"]}
    assert set(statuses.values()) == {"in-sync"}, {k: s for k, s in statuses.items() if s != "in-sync"}
    assert report["summary"]["in_sync"] == len(statuses) >= 30
    assert code == 0


def test_one_changed_image_is_exactly_one_drift_at_its_pointer(corpus_repo: Path,
                                                               live_objects: list[dict[str, Any]],
                                                               tmp_path: Path) -> None:
    edited = json.loads(json.dumps(live_objects))
    mysql = next(o for o in edited if o["kind"] == "Deployment" and o["metadata"]["name"] == "mysql")
    containers = mysql["spec"]["template"]["spec"]["containers"]
    containers[0]["image"] = containers[0]["image"] + "-hotfix"

    code, report = check(corpus_repo, snapshot(edited, tmp_path / "live.yaml"), tmp_path / "out")
    drifted = [r for r in report["resources"] if r["status"] != "in-sync"]
    assert [(r["kind"], r["name"], r["status"]) for r in drifted] == [("Deployment", "mysql", "drifted")]
    assert [d["path"] for d in drifted[0]["differences"]] == ["/spec/template/spec/containers/0/image"]
    assert drifted[0]["differences"][0]["live"].endswith("-hotfix")
    assert code == 1
