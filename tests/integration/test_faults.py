"""What the night brings, done for real to `driftcheck check` (the CLI, as a child process): an API that
stops answering in the middle of a paginated list, a Git remote that is gone, a full disk under the archive,
SIGTERM mid-run, a render that hangs, two runs on one archive. Each time: a clear outcome, and nothing
already in the archive is lost or half-written."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from driftcheck.apps import path_app
from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.tree import CommitTree
from driftcheck.render import render_app
from testing.archive import lock_is_free
from testing.k8s_emulator import KubernetesEmulator
from testing.loopback import serve_git

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

N_OBJECTS = 1200  # more than two pages of 500: a fault can strike mid-list


def config_maps(n: int, namespace: str = "") -> list[dict[str, Any]]:
    meta_ns = {"namespace": namespace} if namespace else {}
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:04d}", **meta_ns},
             "data": {"index": str(i)}} for i in range(n)]


def manifests(objects: list[dict[str, Any]]) -> str:
    return "".join("---\n" + json.dumps(o) + "\n" for o in objects)


def driftcheck(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 180
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "driftcheck.cli", "check", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def start_driftcheck(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "driftcheck.cli", "check", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def archive_state(out: Path) -> dict[str, bytes]:
    """Every file in the archive (the lock file aside) and its bytes."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != ".driftcheck.lock"}


def run_dirs(out: Path) -> list[Path]:
    """Published runs (`<cluster>/<UTC stamp>`); a killed run's hidden staging directory is not one."""
    return sorted(p.parent for p in out.rglob("report.json")
                  if re.fullmatch(r"\d{8}T\d{6}Z(-\d+)?", p.parent.name))


def assert_archive_clean(out: Path) -> None:
    """No staging leftovers: every directory under a cluster is a complete, published run."""
    leftovers = [p for p in out.rglob("*")
                 if p.name.endswith(".tmp") or (p.name.startswith(".") and p.is_dir())]
    assert not leftovers, f"partial files left in the archive: {leftovers}"
    for run in [p for c in out.iterdir() if c.is_dir() for p in c.iterdir() if p.is_dir()]:
        json.loads((run / "report.json").read_text())


@pytest.fixture
def small_repo(git_repo: GitRepoBuilder) -> GitRepoBuilder:
    git_repo.commit({"app/cms.yaml": manifests(config_maps(3))}, "three config maps")
    return git_repo


@pytest.fixture
def live_snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "live.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": config_maps(3, "web")}))
    return path


# --- the Kubernetes API -----------------------------------------------------------------------------------

@pytest.fixture
def api_with_many(k8s_api: KubernetesEmulator, git_repo: GitRepoBuilder) -> KubernetesEmulator:
    k8s_api.add(*config_maps(N_OBJECTS, "web"))
    git_repo.commit({"app/cms.yaml": manifests(config_maps(N_OBJECTS))}, "many config maps")
    return k8s_api


def test_api_timeout_mid_list_is_retried_and_no_object_is_lost(api_with_many: KubernetesEmulator,
                                                                kubeconfig: Path, git_repo: GitRepoBuilder,
                                                                tmp_path: Path) -> None:
    """The second page stalls past the read timeout (--request-timeout 3); that page is asked again."""
    api_with_many.stall("configmaps", seconds=20, times=1, on_continue=True)
    proc = driftcheck("--repo", git_repo.path, "--path", "app", "-n", "web", "--kubeconfig", kubeconfig,
                      "--out", tmp_path / "out", "-o", "none", "--request-timeout", "3")
    assert proc.returncode == 0, proc.stderr
    [run] = run_dirs(tmp_path / "out")
    report = json.loads((run / "report.json").read_text())
    assert report["summary"]["in_sync"] == N_OBJECTS and report["summary"]["total"] == N_OBJECTS
    pages = [r for r in api_with_many.requests if r.path.endswith("/configmaps") and "continue" in r.query]
    assert len(pages) >= 3, "the stalled page was asked for again"
    assert {r.method for r in api_with_many.requests} == {"GET"}


def test_api_failing_mid_list_makes_the_kind_unknown_never_missing(api_with_many: KubernetesEmulator,
                                                                   kubeconfig: Path, git_repo: GitRepoBuilder,
                                                                   tmp_path: Path) -> None:
    api_with_many.fail("configmaps", times=None, status=503, on_continue=True)  # type: ignore[arg-type]
    proc = driftcheck("--repo", git_repo.path, "--path", "app", "-n", "web", "--kubeconfig", kubeconfig,
                      "--out", tmp_path / "out", "-o", "none")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    [run] = run_dirs(tmp_path / "out")
    report = json.loads((run / "report.json").read_text())
    statuses = {r["status"] for r in report["resources"]}
    assert statuses == {"unknown"}, "a list cut short proves nothing is missing"
    assert report["summary"]["unknown"] == N_OBJECTS and report["summary"]["missing"] == 0


# --- the Git remote ----------------------------------------------------------------------------------------

@pytest.fixture
def git_daemon(tmp_path: Path, small_repo: GitRepoBuilder) -> Iterator[dict[str, Any]]:
    """`git daemon` serving a bare copy of small_repo on a loopback port; stop() makes it unreachable."""
    url, daemon = serve_git(small_repo.path, tmp_path / "served", "k8s.git")

    def stop() -> None:
        daemon.terminate()
        daemon.wait(timeout=10)

    yield {"url": url, "stop": stop}
    if daemon.poll() is None:
        stop()


def test_unreachable_remote_uses_the_cached_clone_and_says_how_old(git_daemon: dict[str, Any], tmp_path: Path,
                                                                   live_snapshot: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    common = ("--repo", git_daemon["url"], "--path", "app", "-n", "web", "--live-snapshot", live_snapshot,
              "--out", tmp_path / "out", "-o", "none")
    first = driftcheck(*common, env=env)
    assert first.returncode == 0, first.stderr
    git_daemon["stop"]()
    time.sleep(1.1)  # so the cache is at least a second old

    stale = driftcheck(*common, env=env)
    assert stale.returncode == 0, stale.stderr
    warning = next(line for line in stale.stderr.splitlines() if "cached clone" in line)
    assert "127.0.0.1" in warning and re.search(r"last fetched 0:0\d:\d\d ago", warning), warning
    assert len(run_dirs(tmp_path / "out")) == 2, "the night still has its report"

    before = archive_state(tmp_path / "out")
    fresh = driftcheck(*common, "--require-fresh", env=env)
    assert fresh.returncode == 2
    [line] = [ln for ln in fresh.stderr.splitlines() if ln.startswith("driftcheck: error:")]
    assert "127.0.0.1" in line and "Traceback" not in fresh.stderr
    assert archive_state(tmp_path / "out") == before, "a refused run writes nothing"


# --- the disk ----

@pytest.fixture
def small_disk(tmp_path: Path, require: Callable[[bool, str], None]) -> Iterator[Path]:
    """A real 2 MiB tmpfs: writes past it fail with ENOSPC, as on a full volume."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    require(done.returncode == 0, f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_disk_full_while_writing_leaves_no_partial_report_and_the_previous_intact(
        small_repo: GitRepoBuilder, live_snapshot: Path, small_disk: Path, tmp_path: Path) -> None:
    out = small_disk / "reports"
    common = ("--repo", small_repo.path, "--path", "app", "-n", "web", "--live-snapshot", live_snapshot,
              "--out", out, "-o", "none", "--metrics-file", out / "metrics.prom")
    assert driftcheck(*common).returncode == 0
    before = archive_state(out)
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * (free - 8192))  # leave less than one report needs

    proc = driftcheck(*common)
    assert proc.returncode == 2
    [line] = [ln for ln in proc.stderr.splitlines() if ln.startswith("driftcheck: error:")]
    assert "No space left on device" in line and "Traceback" not in proc.stderr
    assert archive_state(out) == before, "previous report, index and metrics byte-identical"
    assert_archive_clean(out)
    assert lock_is_free(out)

    (small_disk / "filler").unlink()
    assert driftcheck(*common).returncode == 0, "the next night works again"
    assert len(run_dirs(out)) == 2


# --- signals ----

@pytest.fixture
def hanging_kustomize(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A `kustomize` earlier on PATH that announces its pid, then hangs (a stuck plugin, a dead NFS)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "kustomize-started"
    script = bin_dir / "kustomize"
    script.write_text(f"#!/bin/sh\necho $$ > {marker}\nexec sleep 300\n")
    script.chmod(0o755)
    yield {"env": {"PATH": f"{bin_dir}:{os.environ['PATH']}"}, "marker": marker}
    if marker.exists():  # a killed driftcheck leaves its render child behind; end the one this test started
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(marker.read_text()), signal.SIGKILL)


def wait_for(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_sigterm_during_a_run_leaves_no_report_and_releases_the_lock(
        git_repo: GitRepoBuilder, live_snapshot: Path, hanging_kustomize: dict[str, Any], tmp_path: Path,
        small_repo: GitRepoBuilder) -> None:
    """activeDeadlineSeconds or a node drain: SIGTERM while a render hangs."""
    out = tmp_path / "out"
    ok = driftcheck("--repo", small_repo.path, "--path", "app", "-n", "web", "--live-snapshot", live_snapshot,
                    "--out", out, "-o", "none")
    assert ok.returncode == 0, ok.stderr
    before = archive_state(out)
    git_repo.commit({"kapp/kustomization.yaml": "resources: [cm.yaml]\n",
                     "kapp/cm.yaml": manifests(config_maps(1))}, "a kustomize app")
    proc = start_driftcheck("--repo", git_repo.path, "--path", "kapp", "-n", "web", "--live-snapshot",
                            live_snapshot, "--out", out, "-o", "none",
                            env={**hanging_kustomize["env"], "TMPDIR": str(tmp_path)})  # litter stays here
    wait_for(hanging_kustomize["marker"].exists)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert time.monotonic() - started < 10, "SIGTERM ends the run promptly"
    assert proc.returncode != 0
    assert archive_state(out) == before
    assert_archive_clean(out)
    assert lock_is_free(out)


def stderr_lines(proc: subprocess.Popen[str]) -> list[str]:
    """Collect the child's stderr lines as they come (a thread, so waiting never blocks the test)."""
    lines: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        lines.extend(iter(proc.stderr.readline, ""))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_sigterm_while_waiting_for_the_archive_lock(small_repo: GitRepoBuilder, live_snapshot: Path,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "out"
    common = ("--repo", small_repo.path, "--path", "app", "-n", "web", "--live-snapshot", live_snapshot,
              "--out", out, "-o", "none")
    assert driftcheck(*common).returncode == 0
    before = archive_state(out)
    with open(out / ".driftcheck.lock", "a+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another run is writing
        proc = start_driftcheck(*common)
        lines = stderr_lines(proc)
        wait_for(lambda: any("waiting for" in line for line in lines))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) != 0
        fcntl.flock(holder, fcntl.LOCK_UN)
    assert archive_state(out) == before
    assert_archive_clean(out)
    assert lock_is_free(out)


def test_sigterm_at_any_moment_of_writing_never_publishes_a_partial_report(git_repo: GitRepoBuilder,
                                                                            tmp_path: Path) -> None:
    """Killed at several moments across the write phase: what is published is always whole, and the next
    run clears whatever the killed one left (a run killed by SIGKILL or the OOM killer leaves the same)."""
    git_repo.commit({"app/cms.yaml": manifests(config_maps(N_OBJECTS))}, "many")
    live = tmp_path / "live.json"
    drifted = [{**o, "data": {"index": "changed"}} for o in config_maps(N_OBJECTS, "web")]
    live.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": drifted}))
    out = tmp_path / "out"
    common = ("--repo", git_repo.path, "--path", "app", "-n", "web", "--live-snapshot", live,
              "--out", out, "-o", "none")
    timing = start_driftcheck(*common)
    lines = stderr_lines(timing)
    wait_for(lambda: any(line.startswith("live state") for line in lines), timeout=120)
    read_done = time.monotonic()
    assert timing.wait(timeout=120) == 1
    write_phase = time.monotonic() - read_done  # comparing, history and writing
    published = len(run_dirs(out))
    for fraction in (0.5, 0.8, 0.95):
        proc = start_driftcheck(*common)
        lines = stderr_lines(proc)
        wait_for(lambda lines=lines: any(line.startswith("live state") for line in lines), timeout=120)
        time.sleep(write_phase * fraction)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        published = len(run_dirs(out))
        for run in run_dirs(out):
            assert {p.name for p in run.iterdir()} >= {"report.json", "report.html"}
            json.loads((run / "report.json").read_text())
        assert lock_is_free(out)
    assert driftcheck(*common).returncode == 1
    assert len(run_dirs(out)) == published + 1
    assert_archive_clean(out)


# --- renders ----

def test_hanging_render_times_out_as_an_app_error(git_repo: GitRepoBuilder, hanging_kustomize: dict[str, Any],
                                                  tmp_path: Path) -> None:
    """Through the CLI: --render-timeout stops the stuck Kustomize app, the other app is still checked."""
    git_repo.commit({"kapp/kustomization.yaml": "resources: [cm.yaml]\n",
                     "kapp/cm.yaml": manifests(config_maps(1)), "app/cms.yaml": manifests(config_maps(3))},
                    "a kustomize app and a plain one")
    live = tmp_path / "live.json"
    live.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": config_maps(3, "web")}))
    started = time.monotonic()
    proc = driftcheck("--repo", git_repo.path, "--path", "kapp", "--path", "app", "-n", "web",
                      "--live-snapshot", live, "--out", tmp_path / "out", "--format", "json",
                      "--render-timeout", "2", env=hanging_kustomize["env"])
    assert time.monotonic() - started < 30
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    report = json.loads(next((tmp_path / "out").rglob("report.json")).read_text())
    [error] = report["errors"]
    assert error["app"] == "kapp" and "did not finish within 2 s" in error["message"]
    assert {(r["app"], r["status"]) for r in report["resources"]} == {("app", "in-sync")}


def test_helm_chart_that_loops_times_out_as_an_app_error(git_repo: GitRepoBuilder,
                                                         require: Callable[[bool, str], None]) -> None:
    """Rendered in-process by the Helm SDK (no helm binary in the image): a template looping 400 million
    times is stopped at the render timeout, and the next app still renders."""
    require(importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra (helm-python-sdk)")
    git_repo.commit({"chart/Chart.yaml": "apiVersion: v2\nname: loop\nversion: 0.1.0\n",
                     "chart/templates/cm.yaml": "{{- range until 20000 }}{{- range until 20000 }}{{- end }}"
                                                "{{- end }}\n" + manifests(config_maps(1)),
                     "plain/cm.yaml": manifests(config_maps(1))}, "a chart that never finishes")
    repo = open_repo(str(git_repo.path))
    tree = CommitTree(repo, resolve_commit(repo))
    started = time.monotonic()
    out = render_app(tree, path_app("loop", "chart", "web"), timeout=3)
    assert time.monotonic() - started < 20
    assert out.resources == []
    [error] = out.errors
    assert error.app == "loop" and "did not finish within 3 s" in error.message
    assert render_app(tree, path_app("plain", "plain", "web"), timeout=3).resources


# --- two runs at once ----

def test_two_runs_on_one_archive_both_publish_whole_reports(small_repo: GitRepoBuilder, live_snapshot: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "out"
    common = ("--repo", small_repo.path, "--path", "app", "-n", "web", "--live-snapshot", live_snapshot,
              "--out", out, "-o", "none", "--metrics-file", out / "metrics.prom")
    runs = [start_driftcheck(*common) for _ in range(4)]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in runs]
    assert [code for code, _ in results] == [0, 0, 0, 0], [err for _, err in results]
    dirs = run_dirs(out)
    assert len(dirs) == 4 and len({d.name for d in dirs}) == 4, "one run directory each, none overwritten"
    for run in dirs:
        assert json.loads((run / "report.json").read_text())["summary"]["in_sync"] == 3
    assert_archive_clean(out)
    assert lock_is_free(out)
    index = (out / "index.html").read_text()
    assert all(d.name in index for d in dirs), "the index lists every run"
