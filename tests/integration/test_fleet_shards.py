"""`check --shard INDEX/COUNT` over emulator clusters: each shard reads only its own clusters, shards run
at once into one archive, and the fleet summary the last one writes covers every cluster's latest run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftcheck.clusters.shard import shard_of
from testing.fleet import Fleet, application, config_maps

NAMES = ("alpha", "beta", "gamma", "delta")
DRIFTED = "gamma"  # its live ConfigMap differs from Git


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def fleet(tmp_path: Path) -> Any:
    live = {n: config_maps([f"{n}-config"], n, n, value="changed" if n == DRIFTED else "v") for n in NAMES}
    with Fleet(tmp_path / "fleet", live, current="alpha") as running:
        yield running


def write_repo(repo: Path, fleet: Fleet) -> None:
    git(repo, "init", "-q")
    (repo / "argocd").mkdir()
    for n in NAMES:
        (repo / f"apps/{n}").mkdir(parents=True)
        (repo / f"apps/{n}/cm.yaml").write_text(yaml.safe_dump_all(config_maps([f"{n}-config"], n, n)))
    (repo / "argocd/clusters.yaml").write_text(fleet.cluster_secrets())
    (repo / "argocd/apps.yaml").write_text("---\n".join(application(n, f"apps/{n}", n, cluster=n)
                                                        for n in NAMES))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "fleet")


def command(repo: Path, fleet: Fleet, out: Path, *flags: str) -> list[str]:
    mappings = [arg for n in NAMES[1:] for arg in ("--cluster", f"{n}={n}")]
    return [str(Path(sys.executable).parent / "driftcheck"), "check", "--repo", str(repo),
            "--argocd-apps", "argocd/*.yaml", "--repo-url", "https://git.example.com/fleet.git",
            "--kubeconfig", str(fleet.kubeconfig), "--out", str(out), "--format", "json", "-o", "none",
            *mappings, *flags]


def test_shards_read_only_their_clusters_and_compose_one_fleet_summary(fleet: Fleet, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    write_repo(repo, fleet)
    out = tmp_path / "reports"
    owned = {i: {n for n in NAMES if shard_of(n, 2) == i} for i in (0, 1)}
    assert all(owned.values()), owned  # the names split over both shards (else the test proves little)

    procs = {i: subprocess.Popen(command(repo, fleet, out, "--shard", f"{i}/2", "--workers", "2"),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (0, 1)}
    results = {i: (p.wait(timeout=300), p.stderr.read() if p.stderr else "") for i, p in procs.items()}
    for i, (code, stderr) in results.items():
        assert code == (1 if DRIFTED in owned[i] else 0), stderr  # the worst of this shard's clusters
        assert "fleet exit status" in stderr
        rendered = [line.split(": ") for line in stderr.splitlines() if line.startswith("apps rendered")]
        assert sorted(what.split(",")[0] for _, _, what in rendered) == sorted(owned[i])  # its own apps only
        mine = len(owned[i])
        assert [count for _, count, _ in rendered] == [f"{k}/{mine}" for k in range(1, mine + 1)]

    fleet.stop()
    for n in NAMES:  # every cluster read by exactly one shard, once
        lists = [r for r in fleet.requests(n) if r["path"].endswith("/configmaps")]
        assert len(lists) == 1, (n, lists)

    doc = json.loads((out / "fleet.json").read_text())
    assert doc["schema"] == "driftcheck/fleet-v1"
    by_name = {c["name"]: c for c in doc["clusters"]}
    assert set(by_name) == set(NAMES)
    assert by_name[DRIFTED]["counts"]["drifted"] == 1 and by_name[DRIFTED]["exit_status"] == 1
    assert all(by_name[n]["counts"]["in_sync"] == 1 and by_name[n]["exit_status"] == 0
               for n in NAMES if n != DRIFTED)
    assert all(c["server"] == fleet.url(c["name"]) and c["error"] == "" for c in doc["clusters"])
    assert {(a["name"], a["cluster"], a["standing"]) for a in doc["apps"]} == {
        (n, n, "drifted" if n == DRIFTED else "in-sync") for n in NAMES}
    assert doc["exit_status"] == 1
    for c in doc["clusters"]:
        assert (out / c["report"]).is_file()
    page = (out / "index.html").read_text()
    assert all(f"<td>{n}</td>" in page for n in NAMES)
    assert 'href="runs.html"' in page  # the run history is kept beside the fleet page, not replaced by it
    runs = (out / "runs.html").read_text()
    assert all(c["latest_run"] in runs for c in doc["clusters"])


def test_a_failed_cluster_stays_in_the_summary_other_shards_write(fleet: Fleet, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    write_repo(repo, fleet)
    out = tmp_path / "reports"
    victim = next(n for n in NAMES[1:] if shard_of(n, 2) == 0)
    fleet.stop(victim)
    first = subprocess.run(command(repo, fleet, out, "--shard", "0/2", "--request-timeout", "2"),
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 2, first.stderr
    second = subprocess.run(command(repo, fleet, out, "--shard", "1/2"), capture_output=True, text=True,
                            timeout=300)
    assert second.returncode in (0, 1), second.stderr
    doc = json.loads((out / "fleet.json").read_text())  # written by shard 1, which never read the victim
    failed = next(c for c in doc["clusters"] if c["name"] == victim)
    assert failed["exit_status"] == 2 and failed["error"] and failed["latest_run"] is None
    assert {(a["name"], a["standing"]) for a in doc["apps"] if a["cluster"] == victim} == {(victim, "error")}
    assert doc["exit_status"] == 2
    assert {c["name"] for c in doc["clusters"]} == set(NAMES)


@pytest.mark.parametrize("value", ["3/2", "x/y", "1/0", "-1/2"])
def test_a_bad_shard_is_a_clear_error(value: str, fleet: Fleet, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    write_repo(repo, fleet)
    proc = subprocess.run(command(repo, fleet, tmp_path / "reports", "--shard", value), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert f"--shard {value!r}" in proc.stderr or f"--shard {value}:" in proc.stderr, proc.stderr
    assert not (tmp_path / "reports" / "fleet.json").exists()


def test_the_fleet_overlay_is_an_indexed_job_with_one_shard_per_pod() -> None:
    """`kubectl kustomize deploy/fleet` builds; each Pod index i runs --shard i/COUNT, COUNT = completions."""
    from driftcheck.clusters.shard import parse_shard

    root = Path(__file__).resolve().parents[2]
    rendered = subprocess.run(["kubectl", "kustomize", str(root / "deploy/fleet")], capture_output=True,
                              text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    docs = list(yaml.safe_load_all(rendered.stdout))
    [cron] = [d for d in docs if d["kind"] == "CronJob"]
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    assert job["completions"] == job["parallelism"] > 1
    exit_one = job["podFailurePolicy"]["rules"][0]
    assert exit_one["onExitCodes"]["values"] == [1] and exit_one["action"] == "FailIndex"  # drift: one Pod
    [container] = job["template"]["spec"]["containers"]
    [shard_arg] = [a for a in container["args"] if a.startswith("--shard=")]
    assert shard_arg == f"--shard=$(JOB_COMPLETION_INDEX)/{job['completions']}"
    for index in range(job["completions"]):  # what every Pod's argument expands to is a valid shard
        parse_shard(shard_arg.split("=", 1)[1].replace("$(JOB_COMPLETION_INDEX)", str(index)))
    [pvc] = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]  # every shard writes the one archive
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["archive"] == "/var/lib/driftcheck"
    assert "--out=/var/lib/driftcheck/reports" in container["args"]


def test_a_child_app_is_audited_by_the_shard_of_its_destination_not_its_parents(fleet: Fleet,
                                                                               tmp_path: Path) -> None:
    parent_cluster = next(n for n in NAMES if shard_of(n, 2) == 0)
    child_cluster = next(n for n in NAMES if shard_of(n, 2) == 1)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "apps/root").mkdir(parents=True)
    (repo / "apps/child").mkdir(parents=True)
    (repo / "apps/root/child.yaml").write_text(application("child", "apps/child", child_cluster,
                                                           cluster=child_cluster))
    (repo / "apps/child/cm.yaml").write_text(yaml.safe_dump_all(config_maps(["child-config"], child_cluster,
                                                                            "child")))
    write_repo(repo, fleet)
    with open(repo / "argocd/apps.yaml", "a") as apps:
        apps.write("---\n" + application("root", "apps/root", "argocd", cluster=parent_cluster))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "root app")
    out = tmp_path / "reports"
    for index in (0, 1):
        proc = subprocess.run(command(repo, fleet, out, "--shard", f"{index}/2"), capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode in (1, 2), proc.stderr
    doc = json.loads((out / "fleet.json").read_text())
    standing = {(a["name"], a["cluster"]): a["standing"] for a in doc["apps"]}
    assert standing[("child", child_cluster)] == "missing"  # its ConfigMap is not on its cluster
    assert [cluster for name, cluster in standing if name == "child"] == [child_cluster]
    assert ("root", parent_cluster) in standing
