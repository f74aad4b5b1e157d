"""A fleet audited by forked worker processes (--workers) says exactly what one process says.

Three emulator processes; each cluster's app has a drifted ConfigMap, a field hidden by a jq ignore rule
(jq runs in the workers' own jq child) and a deploy history of two commits (walked through the workers'
own git processes). Every report, table and fleet summary must match the one-process run's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from testing.fleet import Fleet, application, config_maps

NAMES = ("alpha", "beta", "gamma")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   check=True, capture_output=True)


def live(name: str) -> list[dict[str, Any]]:
    objects = config_maps(["settings", "flags"], "team", f"app-{name}")
    objects[0]["data"] = {"key": f"changed on {name}"}  # drift
    objects[1]["data"] = {"key": "v", "ignored": "set by a controller"}  # hidden by the jq rule
    return objects


def write_repo(repo: Path, fleet: Fleet) -> None:
    repo.mkdir()
    git(repo, "init", "-q")
    for name in NAMES:
        (repo / "apps" / name).mkdir(parents=True)
        (repo / "apps" / name / "cms.yaml").write_text(
            yaml.safe_dump_all(config_maps(["settings", "flags"], "team", f"app-{name}", value="old")))
    (repo / "argocd").mkdir()
    (repo / "argocd/clusters.yaml").write_text(fleet.cluster_secrets())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first deploy")
    apps = []
    for name in NAMES:
        desired = config_maps(["settings", "flags"], "team", f"app-{name}")
        desired[1]["data"]["ignored"] = "as Git has it"  # the controller's value differs: ignored, not drift
        (repo / "apps" / name / "cms.yaml").write_text(yaml.safe_dump_all(desired))
        app = yaml.safe_load(application(f"app-{name}", f"apps/{name}", "team", cluster=name))
        app["spec"]["ignoreDifferences"] = [{"kind": "ConfigMap", "jqPathExpressions": [".data.ignored"]}]
        apps.append(yaml.safe_dump(app))
    (repo / "argocd/apps.yaml").write_text("---\n".join(apps))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "second deploy")


def check(repo: Path, fleet: Fleet, out: Path, workers: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "driftcheck"), "check", "--repo", str(repo),
         "--argocd-apps", "argocd/*.yaml", "--repo-url", "https://git.example.com/fleet.git",
         "--kubeconfig", str(fleet.kubeconfig), "--out", str(out), "--format", "json,html", "-o", "table",
         "--history-since", "30d", "--workers", str(workers),
         *[f for n in NAMES[1:] for f in ("--cluster", f"{n}={n}")]],
        capture_output=True, text=True, timeout=300)


def comparable(out: Path, cluster: str) -> dict[str, Any]:
    """The cluster's report without what differs between any two runs (times, digests)."""
    [path] = sorted((out / cluster).glob("*/report.json"))
    doc = json.loads(path.read_text())
    for key in ("generated_at", "digest", "digests"):
        doc.pop(key)
    for resource in doc["resources"]:
        resource.pop("first_seen", None)
    return doc


@pytest.fixture
def fleet(tmp_path: Path) -> Any:
    with Fleet(tmp_path / "fleet", {n: live(n) for n in NAMES}) as running:
        yield running


def test_workers_write_what_one_process_writes(fleet: Fleet, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_repo(repo, fleet)
    one = check(repo, fleet, tmp_path / "one", workers=1)
    three = check(repo, fleet, tmp_path / "three", workers=3)
    assert one.returncode == three.returncode == 1, three.stderr

    for name in NAMES:
        doc = comparable(tmp_path / "three", name)
        assert doc == comparable(tmp_path / "one", name)
        statuses = {r["name"]: r["status"] for r in doc["resources"]}
        assert statuses == {"settings": "drifted", "flags": "in-sync"}
        flags = next(r for r in doc["resources"] if r["name"] == "flags")
        assert [i["path"] for i in flags["ignored"]] == ["/data/ignored"]  # jq ran in the worker
        assert {e["message"] for e in doc["history"]} == {"second deploy", "first deploy"}
    assert three.stdout == one.stdout  # one table per cluster, in the same order
    assert [line.split(" (")[0] for line in three.stderr.splitlines() if line.startswith("clusters read")] \
        == [f"clusters read: {n}/3" for n in (1, 2, 3)]  # one count across the workers
    rendered = [line.split(": ") for line in three.stderr.splitlines() if line.startswith("apps rendered")]
    assert [count for _, count, _ in rendered] == ["1/3", "2/3", "3/3"]  # in the workers, counted once
    assert sorted(what.split(",")[0] for _, _, what in rendered) == [f"app-{n}" for n in NAMES]
    summaries = [json.loads((tmp_path / out / "fleet.json").read_text()) for out in ("one", "three")]
    assert [c["counts"] for c in summaries[0]["clusters"]] == [c["counts"] for c in summaries[1]["clusters"]]
    fleet.stop()
    for name in NAMES:  # each cluster read once per run, whichever process read it
        assert len([r for r in fleet.requests(name) if re.search(r"/configmaps$", r["path"])]) == 2
