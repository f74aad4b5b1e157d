"""`python -m bench.fleet`: one check over 20 clusters x 1,000 objects against one cluster's check.

Each cluster is its own emulator process (`testing/fleet.py`); a Git repository holds one Application per
cluster (1,000 ConfigMaps, destined by name) and the cluster Secrets naming the clusters. Each cluster's
live state has one ConfigMap changed, so every report must say 999 in-sync and 1 drifted. The single
run checks one app on its own one-emulator fleet; the fleet run maps the other 19 with --cluster. The
emulators log their requests: each must have been asked for its ConfigMaps once (as many LIST pages as
the single run's cluster).

    .venv/bin/python -m bench.fleet [--clusters 20] [--objects 1000] [--runs N] [--work DIR]

This machine's run-to-run spread is as large as a tenth of the fleet run: --runs N repeats the pair
(each against emulators of its own, as the first) and reports the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from testing.fleet import Fleet, application, config_maps

REPO_URL = "https://git.example.com/fleet.git"
BIN = Path(sys.executable).parent


def cluster_names(count: int) -> list[str]:
    return [f"c{i:02d}" for i in range(count)]


def live_objects(name: str, objects: int) -> list[dict[str, Any]]:
    live = config_maps([f"cm-{i:05d}" for i in range(objects)], "team", f"app-{name}")
    live[0]["data"] = {"key": "changed in the cluster"}
    return live


def write_repo(repo: Path, fleet: Fleet, names: list[str], objects: int) -> None:
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "argocd").mkdir()
    for name in names:
        (repo / "apps" / name).mkdir(parents=True)
        desired = config_maps([f"cm-{i:05d}" for i in range(objects)], "team", f"app-{name}")
        (repo / "apps" / name / "cms.yaml").write_text(yaml.safe_dump_all(desired, sort_keys=False))
    (repo / "argocd/apps.yaml").write_text("---\n".join(
        application(f"app-{n}", f"apps/{n}", "team", cluster=n) for n in names))
    (repo / "argocd/clusters.yaml").write_text(fleet.cluster_secrets())
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@example.com", "commit",
                    "-qm", "fleet"], check=True)


def check(repo: Path, fleet: Fleet, out: Path, *flags: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "driftcheck"), "check", "--repo", str(repo), "--argocd-apps",
                           "argocd/*.yaml", "--repo-url", REPO_URL, "--kubeconfig", str(fleet.kubeconfig),
                           "--out", str(out), "--format", "json", "-o", "none", "--history-since", "1d",
                           *flags], capture_output=True, text=True, timeout=1800)
    return time.monotonic() - started, proc


def correct(out: Path, name: str, objects: int) -> bool:
    """The cluster's one report says: its app, objects-1 in-sync, cm-00000 drifted, no error."""
    found = list((out / name).glob("*/report.json"))
    if len(found) != 1:
        return False
    doc = json.loads(found[0].read_text())
    statuses = [(r["name"], r["status"]) for r in doc["resources"]]
    return (not doc["errors"] and [a["name"] for a in doc["apps"]] == [f"app-{name}"]
            and sorted(s for _, s in statuses) == ["drifted"] + ["in-sync"] * (objects - 1)
            and ("cm-00000", "drifted") in statuses)


def lists(fleet: Fleet, name: str) -> int:
    return sum(1 for r in fleet.requests(name) if r["path"].endswith("/configmaps"))


def measure(work: Path, names: list[str], objects: int) -> dict[str, Any]:
    """One single-cluster run and one fleet run, each against emulators started for it alone."""
    with Fleet(work / "one", {names[0]: live_objects(names[0], objects)}) as one:
        write_repo(work / "repo-one", one, names[:1], objects)
        single, _ = check(work / "repo-one", one, work / "out-one")
    print(f"single cluster: {single:.2f} s", file=sys.stderr)
    with Fleet(work / "fleet", {n: live_objects(n, objects) for n in names}) as fleet:
        write_repo(work / "repo", fleet, names, objects)
        flags = [f for n in names[1:] for f in ("--cluster", f"{n}={n}")]
        whole, proc = check(work / "repo", fleet, work / "out", *flags)
    print(f"{len(names)} clusters: {whole:.2f} s, exit {proc.returncode}", file=sys.stderr)
    if proc.returncode not in (0, 1):
        print(proc.stderr[-3000:], file=sys.stderr)
    reads = {n: lists(fleet, n) for n in names}
    return {
        "single_wall_s": round(single, 2), "fleet_wall_s": round(whole, 2), "ratio": round(whole / single, 2),
        "exit_code": proc.returncode,
        "reports_correct": sum(correct(work / "out", n, objects) for n in names),
        "configmap_lists_single": lists(one, names[0]),
        "configmap_lists_per_cluster": sorted(set(reads.values())),
        "last_progress": [line for line in proc.stderr.splitlines() if line.startswith("clusters read")][-1:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1, help="pairs of runs; the medians are reported too")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    names = cluster_names(args.clusters)
    runs = [measure(work / f"run-{i}", names, args.objects) for i in range(args.runs)]
    result: dict[str, Any] = {"clusters": len(names), "objects_per_cluster": args.objects, "runs": runs}
    if args.runs > 1:
        single, whole = (statistics.median(r[k] for r in runs) for k in ("single_wall_s", "fleet_wall_s"))
        result["median"] = {"single_wall_s": round(single, 2), "fleet_wall_s": round(whole, 2),
                            "ratio_of_medians": round(whole / single, 2),
                            "median_ratio": round(statistics.median(r["ratio"] for r in runs), 2)}
    print(json.dumps(result, indent=1))

if __name__ == "__main__":
    main()
