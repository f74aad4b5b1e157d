"""`make bench`: driftcheck at 1,000 / 5,000 / 20,000 objects and over 5,000 commits, against the floor.

Every measurement runs in its own child process; wall time is the parent's clock around it, CPU time
and peak RSS come from that child's own rusage (`os.wait4`: per child, where RUSAGE_CHILDREN would give
the maximum over all children so far). The Kubernetes API is the loopback emulator of the integration
tests, in this (parent) process, so its cost is outside the child's CPU time but inside the wall time,
as a real API server's would be. Generated data is cached under --work, keyed by the generators' code.

    .venv/bin/python -m bench.run [--sizes 1000,5000,20000] [--commits 5000] [--profile 5000]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.history_repo import write_history_repo
from bench.synth_cluster import build_cluster
from bench.synth_repo import REPO_URL, desired_by_app, write_repo
from driftcheck.demo.repo import DEMO_APP_PATH
from driftcheck.live.snapshot import write_snapshot
from driftcheck.model import LiveState, Origin, Resource, ResourceKey
from testing.k8s_emulator import KubernetesEmulator

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TOKEN = "bench-token"
PAGE = 500
GENERATORS = (
    "bench/synth_repo.py",
    "bench/synth_cluster.py",
    "bench/history_repo.py",
    "bench/fastimport.py",
    "testing/livify.py",
    "testing/drift.py",
)


@dataclass
class Measure:
    wall: float
    cpu: float
    rss_mb: float
    rc: int
    stdout: str
    stderr: str


def measure(argv: list[str]) -> Measure:
    """Run argv as a child and take its own rusage when it ends."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measure(
            wall,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024,
            proc.returncode,
            out.read(),
            err.read(),
        )


def fingerprint() -> str:
    digest = hashlib.sha256()
    for rel in GENERATORS:
        digest.update((ROOT / rel).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class Dataset:
    n: int
    repo: Path
    snapshot: Path
    live_file: Path
    planted: Counter[str]


def prepare(work: Path, n: int) -> Dataset:
    """The repository, snapshot and live objects for N objects (regenerated when the generators change)."""
    base = work / f"n{n}"
    stamp = base / "fingerprint"
    ds = Dataset(n, base / "repo", base / "snapshot.yaml", base / "live.json", Counter())
    if not (stamp.exists() and stamp.read_text() == fingerprint()):
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        print(f"generating {n} objects in {base} ...", file=sys.stderr)
        apps = desired_by_app(n)
        write_repo(ds.repo, apps)
        live, planted = build_cluster(apps)
        ds.live_file.write_text(json.dumps(live))
        (base / "planted.json").write_text(json.dumps(Counter(planted.values())))
        resources = [Resource(ResourceKey.of(o), o["apiVersion"], o, Origin("snapshot")) for o in live]
        kinds = {r.key.group_kind for r in resources}
        write_snapshot(
            LiveState(
                resources=resources,
                info={
                    "server": "https://bench.example:6443",
                    "context": "bench",
                    "kubernetes_version": "v1.30.2",
                    "scope": {"kinds": kinds, "namespaces": set(apps), "selector": None},
                },
            ),
            ds.snapshot,
            include_secret_values=True,
        )
        stamp.write_text(fingerprint())
    ds.planted = Counter(json.loads((base / "planted.json").read_text()))
    return ds


def check_argv(ds: Dataset, out: Path, live: list[str]) -> list[str]:
    return [
        str(BIN / "driftcheck"),
        "check",
        "--repo",
        str(ds.repo),
        "--argocd-apps",
        "argocd/*.yaml",
        "--repo-url",
        REPO_URL,
        "--out",
        str(out),
        "--format",
        "json,html",
        "-o",
        "none",
        *live,
    ]


def found(out: Path) -> Counter[str]:
    """Statuses in the newest JSON report under `out`."""
    report = max(out.rglob("report.json"), key=lambda p: p.stat().st_mtime)
    return Counter(
        r["status"] for r in json.loads(report.read_text())["resources"] if r["status"] != "in-sync"
    )


def expected_requests(live: list[dict[str, Any]], discovery: int) -> int:
    """The target: discovery + Σ ceil(objects of a type / 500)."""
    per_type = Counter((o["apiVersion"], o["kind"]) for o in live)
    return discovery + sum(math.ceil(c / PAGE) for c in per_type.values())


def run_size(ds: Dataset, work: Path) -> list[dict[str, Any]]:
    rows = []
    live = json.loads(ds.live_file.read_text())
    with KubernetesEmulator(token=TOKEN) as api:
        api.add(*live)
        kubeconfig = api.write_kubeconfig(work / "kubeconfig")
        api.reset_log()
        out = work / f"reports-api-{ds.n}"
        shutil.rmtree(out, ignore_errors=True)
        m = measure(check_argv(ds, out, ["--kubeconfig", str(kubeconfig)]))
        requests = [r for r in api.requests if r.method == "GET"]
        discovery = sum(1 for r in requests if r.is_discovery)
        lists = work / "lists.txt"
        lists.write_text("\n".join(_path(r) for r in requests if not r.is_discovery and r.status == 200))
        floor = measure(
            [
                sys.executable,
                "-m",
                "bench.floor",
                "--repo",
                str(ds.repo),
                "--api",
                api.url,
                "--token",
                TOKEN,
                "--requests",
                str(lists),
            ]
        )
        rows.append(_row("check (API)", ds, m, floor, out, len(requests), expected_requests(live, discovery)))
    del live
    gc.collect()
    out = work / f"reports-snapshot-{ds.n}"
    shutil.rmtree(out, ignore_errors=True)
    m = measure(check_argv(ds, out, ["--live-snapshot", str(ds.snapshot)]))
    floor = measure(
        [sys.executable, "-m", "bench.floor", "--repo", str(ds.repo), "--snapshot", str(ds.snapshot)]
    )
    rows.append(_row("check (snapshot)", ds, m, floor, out, None, None))
    return rows


def _path(request: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in request.query.items())
    return f"{request.path}?{query}" if query else request.path


def _row(
    case: str, ds: Dataset, m: Measure, floor: Measure, out: Path, requests: int | None, target: int | None
) -> dict[str, Any]:
    ok = m.rc == 1 and floor.rc == 0
    got = found(out) if ok else Counter()
    if not ok:
        print(
            f"{case} {ds.n}: exit {m.rc}/{floor.rc}\n{m.stderr[-2000:]}{floor.stderr[-2000:]}",
            file=sys.stderr,
        )
    return {
        "case": case,
        "n": ds.n,
        "wall": m.wall,
        "cpu": m.cpu,
        "rss": m.rss_mb,
        "requests": requests,
        "target": target,
        "rate": ds.n / m.wall,
        "floor": floor.wall,
        "ratio": m.wall / floor.wall,
        "cpu_ratio": m.cpu / floor.cpu,
        "correct": got == ds.planted,
        "found": dict(got),
        "planted": dict(ds.planted),
    }


def run_history(work: Path, commits: int) -> dict[str, Any]:
    repo = work / f"history-{commits}"
    stamp = work / f"history-{commits}.fingerprint"
    if not (stamp.exists() and stamp.read_text() == fingerprint()):
        shutil.rmtree(repo, ignore_errors=True)
        write_history_repo(repo, commits)
        stamp.write_text(fingerprint())
    m = measure([sys.executable, "-m", "bench.history_task", str(repo), DEMO_APP_PATH])
    events = json.loads(m.stdout)["events"] if m.rc == 0 else 0
    if m.rc != 0:
        print(f"history: exit {m.rc}\n{m.stderr[-2000:]}", file=sys.stderr)
    return {
        "case": f"history ({commits} commits)",
        "n": events,
        "wall": m.wall,
        "cpu": m.cpu,
        "rss": m.rss_mb,
        "requests": None,
        "target": None,
        "rate": commits / m.wall,
        "floor": None,
        "ratio": None,
        "cpu_ratio": None,
        "correct": m.rc == 0 and events == commits,
        "found": {},
        "planted": {},
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| case | objects | wall s | CPU s | peak RSS MB | API requests (target) | objects/s "
        "| floor s | check/floor wall (CPU) | found = planted |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        req = f"{r['requests']} ({r['target']})" if r["requests"] is not None else "-"
        floor = f"{r['floor']:.2f}" if r["floor"] is not None else "-"
        ratio = f"{r['ratio']:.1f}x ({r['cpu_ratio']:.1f}x)" if r["ratio"] is not None else "-"
        lines.append(
            f"| {r['case']} | {r['n']} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss']:.0f} | {req} "
            f"| {r['rate']:.0f} | {floor} | {ratio} | {'yes' if r['correct'] else 'NO'} |"
        )
    return "\n".join(lines)


def slopes(rows: list[dict[str, Any]]) -> list[str]:
    """Least-squares seconds per 1,000 objects for each check case, and how far from a line it is."""
    out = []
    for case in sorted({r["case"] for r in rows if r["case"].startswith("check")}):
        pts = sorted((r["n"], r["wall"]) for r in rows if r["case"] == case)
        if len(pts) < 2:
            continue
        mean_n = sum(n for n, _ in pts) / len(pts)
        mean_t = sum(t for _, t in pts) / len(pts)
        slope = sum((n - mean_n) * (t - mean_t) for n, t in pts) / sum((n - mean_n) ** 2 for n, _ in pts)
        intercept = mean_t - slope * mean_n
        worst = max(abs(t - (intercept + slope * n)) / t for n, t in pts)
        (n0, t0), (n1, t1) = pts[0], pts[-1]
        out.append(
            f"{case}: {slope * 1000:.2f} s per 1,000 objects (intercept {intercept:.2f} s, largest "
            f"deviation from the line {worst:.0%}); {n0}->{n1} objects: time x{t1 / t0:.1f} "
            f"for x{n1 / n0:.0f} objects"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "driftcheck-bench")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    for n in (int(s) for s in args.sizes.split(",") if s):
        rows += run_size(prepare(args.work, n), args.work)
        print(table(rows[-2:]).splitlines()[-1], file=sys.stderr)
    if args.commits:
        rows.append(run_history(args.work, args.commits))
    print(table(rows))
    print()
    print(
        f"{os.cpu_count()} CPUs; 1-minute load average {load_before:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end "
        "(above the CPU count, wall times include waiting for a CPU; CPU times do not)"
    )
    for line in slopes(rows):
        print(line)
    for r in rows:
        if not r["correct"] and r["planted"]:
            print(f"{r['case']} {r['n']}: found {r['found']}, planted {r['planted']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
