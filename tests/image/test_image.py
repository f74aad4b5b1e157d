"""The image users deploy, run as the CronJob runs it (uid and groups, no capabilities, read-only root,
only the manifest's volumes writable): it starts, its demo and a check against the API emulator on
loopback give the verdicts the host gets, and SIGTERM to its PID 1 publishes no report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.image import PodRunner, pid1
from testing.k8s_emulator import KubernetesEmulator
from testing.loopback import free_port, serve_git

pytestmark = pytest.mark.image
ARCHIVE = "/var/lib/driftcheck"
KUBECONFIG = "/etc/driftcheck/kube/config"
PROBE = """
import errno, json, os
lines = open("/proc/self/status").read().splitlines()
status = dict(line.split(":\\t", 1) for line in lines if ":\\t" in line)
def writable(path):
    try:
        with open(os.path.join(path, ".probe"), "w"):
            pass
        os.unlink(os.path.join(path, ".probe"))
        return True
    except OSError as e:
        return errno.errorcode[e.errno]
print(json.dumps({"uid": status["Uid"].split(), "gid": status["Gid"].split(),
                  "groups": status["Groups"].split(), "cap_eff": status["CapEff"],
                  "cap_bnd": status["CapBnd"], "no_new_privs": status["NoNewPrivs"],
                  "writable": {p: writable(p) for p in json.loads(os.environ["PROBE_PATHS"])}}))
"""


def verdicts(out: Path) -> dict[tuple[str, str, str, str], str]:
    [report] = out.rglob("report.json")
    return {(r["app"], r["kind"], r["namespace"] or "", r["name"]): r["status"]
            for r in json.loads(report.read_text())["resources"]}


def test_runs_as_the_cronjob_says_with_a_read_only_root(pod: PodRunner, tmp_path: Path) -> None:
    volumes = pod.volume_dirs(tmp_path)
    paths = ["/", "/opt/driftcheck", "/etc", *pod.security.mounts]
    done = pod.run(["python", "-c", PROBE], volumes, {"PROBE_PATHS": json.dumps(paths)}, entrypoint=False)
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout)
    s = pod.security
    assert set(seen["uid"]) == {str(s.run_as_user)} and set(seen["gid"]) == {str(s.run_as_group)}
    assert seen["groups"] == [str(s.fs_group)]
    assert int(seen["cap_eff"], 16) == 0 and int(seen["cap_bnd"], 16) == 0, "capabilities: drop ALL"
    assert seen["no_new_privs"] == "1", "allowPrivilegeEscalation: false"
    for path in ("/", "/opt/driftcheck", "/etc"):
        assert seen["writable"][path] == ("EROFS" if s.read_only_root else True), path
    for path, read_only in s.mounts.items():
        assert seen["writable"][path] == ("EROFS" if read_only else True), path


def test_version_and_kustomize(pod: PodRunner, tmp_path: Path) -> None:
    volumes = pod.volume_dirs(tmp_path)
    done = pod.run(["--version"], volumes)
    host = subprocess.run([sys.executable, "-m", "driftcheck.cli", "--version"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and done.stdout == host.stdout, (done.stdout, done.stderr)
    kubectl = pod.run(["kubectl", "version", "--client"], volumes, entrypoint=False)
    assert "Kustomize Version: v5" in kubectl.stdout, kubectl.stdout + kubectl.stderr


def test_the_demo_in_the_image_has_the_host_demo_verdicts(pod: PodRunner, tmp_path: Path) -> None:
    volumes = pod.volume_dirs(tmp_path / "pod")
    archive = next(source for source, target in volumes.items() if target == ARCHIVE)
    done = pod.run(["demo", f"--out={ARCHIVE}/reports"], volumes)
    assert done.returncode == 1, done.stderr  # the demo's planted drift, found
    host = subprocess.run([sys.executable, "-m", "driftcheck.cli", "demo", "--out", str(tmp_path / "host")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert host.returncode == 1, host.stderr
    in_image = verdicts(archive / "reports")
    assert in_image == verdicts(tmp_path / "host")
    assert {"drifted", "in-sync"} <= set(in_image.values())


APP = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  project: default
  source: {repoURL: %s, targetRevision: main, path: apps/web}
  destination: {namespace: web}
"""
MANIFESTS = """apiVersion: v1
kind: ConfigMap
metadata: {name: web-settings}
data: {mode: fast}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-flags}
data: {beta: "false"}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
"""


@pytest.fixture
def cluster(git_repo: Any, tmp_path: Path) -> Iterator[tuple[str, KubernetesEmulator, Path]]:
    """The GitOps repository behind git daemon and the emulator holding the live side, both on loopback."""
    port = free_port()
    url = f"git://127.0.0.1:{port}/k8s-manifests.git"
    git_repo.commit({"argocd/web.yaml": APP % url, "apps/web/all.yaml": MANIFESTS}, "web app")
    _, daemon = serve_git(git_repo.path, tmp_path / "served", "k8s-manifests.git", port)
    with KubernetesEmulator(token="image-test-token") as api:
        api.add({"apiVersion": "v1", "kind": "ConfigMap", "data": {"mode": "slow"},
                 "metadata": {"name": "web-settings", "namespace": "web"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "data": {"beta": "false"},
                 "metadata": {"name": "web-flags", "namespace": "web"}})
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        kubeconfig.chmod(0o644)
        yield url, api, kubeconfig
    daemon.terminate()
    daemon.wait(timeout=10)


def check_args(url: str, out: str) -> list[str]:
    return ["check", f"--repo={url}", "--revision=main", "--argocd-apps=argocd/*.yaml", f"--out={out}",
            "--format=json", "--output=none"]


def test_a_check_in_the_image_gets_the_host_verdicts(pod: PodRunner, cluster: Any, tmp_path: Path) -> None:
    url, api, kubeconfig = cluster
    volumes = {**pod.volume_dirs(tmp_path / "pod"), kubeconfig: KUBECONFIG}
    archive = next(source for source, target in volumes.items() if target == ARCHIVE)
    done = pod.run(check_args(url, f"{ARCHIVE}/reports"), volumes, {"KUBECONFIG": KUBECONFIG})
    assert done.returncode == 1, done.stderr
    assert any((archive / "cache").rglob("HEAD")), "the clone is cached on the archive volume"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "XDG_CACHE_HOME": str(tmp_path / "host-cache")}
    host = subprocess.run([sys.executable, "-m", "driftcheck.cli", *check_args(url, str(tmp_path / "host"))],
                          capture_output=True, text=True, env=env)
    assert host.returncode == 1, host.stderr
    in_image = verdicts(archive / "reports")
    assert in_image == verdicts(tmp_path / "host")
    assert in_image[("web", "ConfigMap", "web", "web-settings")] == "drifted"
    assert in_image[("web", "Service", "web", "web")] == "missing"
    assert {r.method for r in api.requests} == {"GET"}


def test_sigterm_to_pid_1_leaves_no_partial_report(pod: PodRunner, cluster: Any, tmp_path: Path) -> None:
    url, api, kubeconfig = cluster
    api.stall("configmaps", seconds=120, on_continue=False)  # the run hangs reading the cluster
    volumes = {**pod.volume_dirs(tmp_path / "pod"), kubeconfig: KUBECONFIG}
    archive = next(source for source, target in volumes.items() if target == ARCHIVE)
    proc = pod.start(check_args(url, f"{ARCHIVE}/reports"), volumes, {"KUBECONFIG": KUBECONFIG})
    deadline = time.monotonic() + 120
    while not any(r.status == 0 and "configmaps" in r.path for r in api.requests):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr and proc.stderr.read()
        time.sleep(0.1)
    os.kill(pid1(proc), signal.SIGTERM)  # what the kubelet does at activeDeadlineSeconds
    started = time.monotonic()
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10, "SIGTERM ends the run promptly"
    assert proc.returncode != 0, stderr
    assert "Traceback" not in stderr, stderr
    reports = archive / "reports"
    assert not list(reports.rglob("report.json")) and not list(reports.rglob("report.html")), \
        sorted(p.relative_to(reports) for p in reports.rglob("*"))
    tmp = next(source for source, target in volumes.items() if target == "/tmp")
    assert not list(tmp.iterdir()), "no litter in /tmp"
