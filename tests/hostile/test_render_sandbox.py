"""A renderer child cannot reach the network, sees none of the auditor's credentials or git configuration,
and never outlives its timeout or the run: a hanging build under `timeout -s TERM` ends the run within
seconds with no report, the archive lock free and no child left behind."""

from __future__ import annotations

import contextlib
import fcntl
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftcheck.render import sandbox
from testing import planted
from tests.conftest import GitRepoBuilder

PROBE = """
import json, os, socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
    reached = True
except OSError:
    reached = False
print(json.dumps({"reached": reached, "env": dict(os.environ), "home": os.listdir(os.environ["HOME"])}))
"""


@pytest.fixture
def listener() -> Iterator[int]:
    """A loopback port that accepts connections (in the test's own network namespace)."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


def test_a_renderer_child_has_no_network_and_no_credentials(listener: int, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    token = planted.secret("github-token")
    monkeypatch.setenv("GITHUB_TOKEN", token)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", token)
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    with socket.create_connection(("127.0.0.1", listener), timeout=2):
        pass  # reachable from here
    done = sandbox.run([sys.executable, "-c", PROBE, str(listener)], cwd=tmp_path, timeout=30)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["reached"] is False
    assert token not in json.dumps(seen["env"]) and "SSH_AUTH_SOCK" not in seen["env"]
    assert seen["env"].get("HTTPS_PROXY") != "http://proxy.example:3128"
    assert seen["env"]["HOME"] != os.environ["HOME"] and seen["home"] == []
    assert (seen["env"]["GIT_CONFIG_NOSYSTEM"], seen["env"]["GIT_CONFIG_GLOBAL"]) == ("1", "/dev/null")
    assert not Path(seen["env"]["HOME"]).exists(), "the isolated HOME is removed afterwards"


def _isolated_probe(port: int) -> tuple[bool, bool, str]:
    offline = sandbox.isolate_current_process()
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        reached = True
    except OSError:
        reached = False
    return offline, reached, os.environ.get("GIT_CONFIG_GLOBAL", "")


def test_a_multiprocessing_renderer_child_can_leave_the_network(listener: int) -> None:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        offline, reached, git_config = pool.apply(_isolated_probe, (listener,))
    assert offline and not reached and git_config == "/dev/null"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
            return False  # a zombie waiting for its (new) parent to reap it
    return True


def test_a_timeout_kills_the_renderer_and_everything_it_started(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $! >> {pids}; sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; wait"
    started = time.monotonic()
    with pytest.raises(sandbox.RenderTimeout, match="did not finish within 1 s"):
        sandbox.run(["sh", "-c", script], cwd=tmp_path, timeout=1)
    assert time.monotonic() - started < 10
    spawned = [int(p) for p in pids.read_text().split()]
    assert len(spawned) == 3
    deadline = time.monotonic() + 5
    while any(alive(p) for p in spawned) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in spawned if alive(p)]


@pytest.fixture
def hanging_kustomize(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A `kustomize` first on PATH that records its pid and its child's, then hangs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pids = tmp_path / "kustomize-pids"
    script = f"#!/bin/sh\nsleep 300 &\necho $! >> {pids}\necho $$ >> {pids}\nwait\n"
    (bin_dir / "kustomize").write_text(script)
    (bin_dir / "kustomize").chmod(0o755)
    yield {"PATH": f"{bin_dir}:{os.environ['PATH']}"}, pids
    if pids.exists():  # on failure, end what this test started
        for pid in pids.read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


@pytest.mark.slow
def test_sigterm_ends_a_run_stuck_in_kustomize_within_seconds_leaving_nothing(
        git_repo: GitRepoBuilder, hanging_kustomize: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    env, pids = hanging_kustomize
    git_repo.commit({"app/kustomization.yaml": "resources: [cm.yaml]\n",
                     "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"},
                    "kustomize app")
    live = tmp_path / "live.json"
    live.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": []}))
    out = tmp_path / "out"
    started = time.monotonic()
    proc = subprocess.run(["timeout", "-s", "TERM", "10", sys.executable, "-m", "driftcheck.cli", "check",
                           "--repo", str(git_repo.path), "--path", "app", "-n", "demo", "--live-snapshot",
                           str(live), "--out", str(out), "--render-timeout", "300", "-o", "none"],
                          capture_output=True, text=True, env={**os.environ, **env, "TMPDIR": str(tmp_path)},
                          timeout=60)
    assert time.monotonic() - started < 15
    assert proc.returncode == 124, proc.stderr  # timeout(1): the command was stopped by the signal
    assert "Traceback" not in proc.stderr
    assert not [p for p in out.rglob("*") if p.name != ".driftcheck.lock"], "no report, not even partly"
    if (out / ".driftcheck.lock").exists():
        with open(out / ".driftcheck.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a leftover still holds it
    spawned = [int(p) for p in pids.read_text().split()]
    assert len(spawned) == 2
    time.sleep(0.5)
    assert not [p for p in spawned if alive(p)], "no renderer process outlives the run"
    assert not list(tmp_path.glob("driftcheck-*")), "no export or renderer HOME left behind"


def test_without_namespaces_it_says_so_once_and_proxies_lead_nowhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.network_isolation.cache_clear()
    monkeypatch.setattr(sandbox.shutil, "which", lambda _name: None)  # no unshare(1) here
    try:
        first, second = sandbox.child_env(tmp_path), sandbox.child_env(tmp_path)
        assert capsys.readouterr().err.count("cannot give renderers a network namespace") == 1
    finally:
        sandbox.network_isolation.cache_clear()
    assert first == second and first["HTTPS_PROXY"] == first["http_proxy"] == "http://127.0.0.1:9"
    assert first["NO_PROXY"] == first["no_proxy"] == ""
