"""A fleet on loopback: one emulator process per cluster (`python -m testing.k8s_emulator`), one kubeconfig
with a context per cluster, and a Git repository of Applications destined for them by name, with the
ArgoCD cluster Secrets that name the clusters. Each emulator writes its request log when it stops.

    with Fleet(tmp_path, {"alpha": objects_a, "beta": objects_b}) as fleet:
        fleet.kubeconfig; fleet.url("alpha"); ...
    fleet.requests("alpha")   # after the with: what alpha was asked
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "emulator-token"  # the emulator's default


def config_maps(names: list[str], namespace: str, app: str, value: str = "v") -> list[dict[str, Any]]:
    """ConfigMaps tracked by `app` (ArgoCD's instance label), one per name."""
    return [{"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": n, "namespace": namespace, "labels": {"app.kubernetes.io/instance": app}},
             "data": {"key": value}} for n in names]


class Fleet:
    """Emulator processes serving `objects` per cluster name; `kubeconfig` has a context per cluster."""

    def __init__(self, work: Path, objects: dict[str, list[dict[str, Any]]],
                 current: str | None = None) -> None:
        self.work = work
        self.objects = objects
        self.current = current or next(iter(objects))
        self.kubeconfig = work / "kubeconfig"
        self._procs: dict[str, subprocess.Popen[str]] = {}
        self._urls: dict[str, str] = {}

    def __enter__(self) -> Fleet:
        self.work.mkdir(parents=True, exist_ok=True)
        try:
            for name, objects in self.objects.items():
                load = self.work / f"{name}-live.yaml"
                load.write_text(yaml.safe_dump_all(objects, sort_keys=False))
                self._procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "testing.k8s_emulator", "--kubeconfig", str(self._own(name)),
                     "--load", str(load), "--request-log", str(self.work / f"{name}-requests.jsonl")],
                    cwd=ROOT, stdout=subprocess.PIPE, text=True)
            for name, proc in self._procs.items():
                line = proc.stdout.readline() if proc.stdout else ""
                if not line.startswith("serving "):
                    raise RuntimeError(f"emulator {name} did not start: {line!r}")
                self._urls[name] = line.split()[1].rstrip(",")
        except BaseException:
            self.stop()
            raise
        self._write_kubeconfig()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _own(self, name: str) -> Path:
        return self.work / f"{name}-kubeconfig"

    def url(self, name: str) -> str:
        return self._urls[name]

    def _write_kubeconfig(self) -> None:
        names = list(self._urls)
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": self.current, "preferences": {},
            "clusters": [{"name": n, "cluster": {"server": self._urls[n]}} for n in names],
            "users": [{"name": f"{n}-user", "user": {"token": TOKEN}} for n in names],
            "contexts": [{"name": n, "context": {"cluster": n, "user": f"{n}-user"}} for n in names],
        }
        self.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))

    def stop(self, *names: str) -> None:
        """SIGTERM the emulators (all by default; each writes its request log) and wait for them."""
        procs = [p for n, p in self._procs.items() if not names or n in names]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()

    def requests(self, name: str) -> list[dict[str, Any]]:
        """The requests cluster `name` served (after stop)."""
        path = self.work / f"{name}-requests.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def cluster_secrets(self, names: list[str] | None = None) -> str:
        """ArgoCD cluster Secrets (stringData name/server, no credentials) naming the clusters."""
        docs = [{"apiVersion": "v1", "kind": "Secret",
                 "metadata": {"name": f"cluster-{n}", "namespace": "argocd",
                              "labels": {"argocd.argoproj.io/secret-type": "cluster", "env": "test"}},
                 "stringData": {"name": n, "server": self._urls[n]}} for n in (names or list(self._urls))]
        return yaml.safe_dump_all(docs, sort_keys=False)


def application(name: str, path: str, namespace: str, *, cluster: str = "", server: str = "") -> str:
    """An ArgoCD Application of this repository's `path`, destined by name or server."""
    destination = {"namespace": namespace, **({"name": cluster} if cluster else {}),
                   **({"server": server} if server else {})}
    return yaml.safe_dump({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                           "metadata": {"name": name, "namespace": "argocd"},
                           "spec": {"project": "default", "destination": destination,
                                    "source": {"repoURL": "https://git.example.com/fleet.git", "path": path,
                                               "targetRevision": "HEAD"}}}, sort_keys=False)
