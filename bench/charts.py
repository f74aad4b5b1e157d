"""`python -m bench.charts`: 50 Helm apps on 5 charts fetch each chart once; a second run downloads nothing.

A Git repository holds 50 ArgoCD Applications whose source is a chart (`chart:` + `targetRevision`, ten
per chart, half of them a `^1.0` range) from a public chart repository URL that `--repo-mirror` points
at a loopback chart repository (`testing/chart_repo.py`: packaged and indexed with the Helm SDK, each
request logged). `driftcheck render` runs twice in a child on one `--cache-dir`; each time the parent
counts the archive and index requests the server logged and the child reports `Cache.downloads` (the
network downloads its cache recorded), its wall time, the time of each Helm render (`helm._template`:
request to manifest text, whichever renderer), the CPU seconds its child processes used, and peak RSS of
the driftcheck process and of its largest child (the SDK worker; `git` and the like are children too).

    .venv/bin/python -m bench.charts [--apps 50] [--charts 5] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from testing.chart_repo import ChartRepo, chart_repo

PUBLIC = "https://charts.bench.example/stable"
CHART_TEMPLATE = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
                  "  labels:\n    helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}\nspec:\n"
                  "  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels:\n"
                  "      app: {{ .Release.Name }}\n  template:\n    metadata:\n      labels:\n"
                  "        app: {{ .Release.Name }}\n    spec:\n      containers:\n"
                  "        - name: app\n          image: {{ .Values.image }}\n---\n"
                  "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n"
                  "  selector:\n    app: {{ .Release.Name }}\n  ports:\n    - port: 80\n")


def write_apps_repo(root: Path, apps: int, charts: int) -> Path:
    """A Git repository of `apps` Applications spread over `charts` charts."""
    if root.exists():
        shutil.rmtree(root)
    (root / "argocd").mkdir(parents=True)
    for i in range(apps):
        chart = f"chart-{i % charts}"
        application = {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": f"team-{i:02d}", "namespace": "argocd"},
            "spec": {"project": "default",
                     "source": {"repoURL": PUBLIC, "chart": chart,
                                "targetRevision": "1.0.0" if i % 2 else "^1.0",
                                "helm": {"valuesObject": {"replicas": 1 + i % 3}}},
                     "destination": {"server": "https://kubernetes.default.svc",
                                     "namespace": f"team-{i:02d}"}}}
        (root / "argocd" / f"team-{i:02d}.yaml").write_text(yaml.safe_dump(application, sort_keys=False))
    author = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*author, "commit", "-q", "-m", "apps"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    return root


def publish(repo: ChartRepo, charts: int) -> None:
    """Each chart at 1.0.0 (what both pins resolve to) and at 0.9.0, indexed once."""
    for n in range(charts):
        for version in ("0.9.0", "1.0.0"):
            repo.add(f"chart-{n}", version, templates={"app.yaml": CHART_TEMPLATE},
                     values="replicas: 1\nimage: registry.example.com/app:1.0\n")


def child(argv: list[str]) -> None:
    """Run the CLI in this process and print what every Cache it made downloaded (on stderr's last line)."""
    from driftcheck.fetch import cache as cache_module

    made: list[Any] = []
    original = cache_module.Cache.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    cache_module.Cache.__init__ = counting  # type: ignore[method-assign]
    from driftcheck.cli import main
    from driftcheck.render import helm, helm_pool

    renders: list[float] = []
    template = helm._template

    def timed(*args: Any) -> str:
        started = time.perf_counter()
        try:
            return template(*args)
        finally:
            renders.append(time.perf_counter() - started)

    helm._template = timed  # type: ignore[assignment]
    started = time.perf_counter()
    try:
        main(argv, standalone_mode=False)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    wall = time.perf_counter() - started
    helm_pool.POOL.shutdown()  # reaped, so that its usage is counted in RUSAGE_CHILDREN
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    ordered = sorted(renders) or [0.0]
    print(json.dumps({"downloads": sum(c.downloads for c in made), "caches": len(made), "rc": code,
                      "wall_in_process": round(wall, 2), "renders": len(renders),
                      "render_ms_first": round(renders[0] * 1000) if renders else 0,
                      "render_ms_median": round(ordered[len(ordered) // 2] * 1000),
                      "render_ms_max": round(ordered[-1] * 1000),
                      "render_s_total": round(sum(renders), 2), "workers": helm_pool.POOL.started,
                      "children_cpu_s": round(children.ru_utime + children.ru_stime, 1),
                      "rss_mb": own.ru_maxrss // 1024, "child_rss_mb": children.ru_maxrss // 1024}),
          file=sys.stderr)


def run_render(repo_dir: Path, served: ChartRepo, cache: Path, out: Path) -> dict[str, Any]:
    before = len(served.requests)
    argv = ["render", "--repo", str(repo_dir), "--argocd-apps", "argocd/*.yaml", "--cache-dir", str(cache),
            "--repo-mirror", f"{PUBLIC}={served.url}", "--out", str(out)]
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.charts", "--child", json.dumps(argv)],
                          capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    lines = proc.stderr.strip().splitlines()
    try:
        reported = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise SystemExit(f"render failed:\n{proc.stderr[-3000:]}") from None
    requests = served.requests[before:]
    manifest = json.loads((out / "MANIFEST.json").read_text())
    return {"wall": round(wall, 2), "archives": sum(r.path.endswith(".tgz") for r in requests),
            "indexes": sum(r.path.endswith("index.yaml") for r in requests), **reported,
            "apps": sum(1 for a in manifest["apps"] if a["objects"]), "objects": len(manifest["objects"]),
            "errors": len(manifest["errors"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--charts", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "driftcheck-bench-charts")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    repo_dir = write_apps_repo(work / "gitops", args.apps, args.charts)
    with chart_repo(work / "served") as served:
        publish(served, args.charts)
        first = run_render(repo_dir, served, work / "cache", work / "out-1")
        second = run_render(repo_dir, served, work / "cache", work / "out-2")
    print(f"{args.apps} Helm apps on {args.charts} charts (half pinned 1.0.0, half ^1.0), one --cache-dir\n")
    print("| run | wall s | chart archives requested | index.yaml requested | Cache.downloads "
          "| apps rendered | objects | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in (("first (empty cache)", first), ("second (same cache)", second)):
        print(f"| {name} | {r['wall']} | {r['archives']} | {r['indexes']} | {r['downloads']} | {r['apps']} "
              f"| {r['objects']} | {r['errors']} |")
    print("\n| run | renders | SDK workers | render s total | first render ms | median ms | max ms "
          "| child processes CPU s | peak RSS MB driftcheck | peak RSS MB largest child |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in (("first", first), ("second", second)):
        print(f"| {name} | {r['renders']} | {r['workers']} | {r['render_s_total']} | {r['render_ms_first']} "
              f"| {r['render_ms_median']} | {r['render_ms_max']} | {r['children_cpu_s']} | {r['rss_mb']} "
              f"| {r['child_rss_mb']} |")
    print(f"\n1-minute load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    ok = first["archives"] == args.charts and second["archives"] == 0 and second["downloads"] == 0
    print(f"\neach chart downloaded once, nothing the second time: {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
