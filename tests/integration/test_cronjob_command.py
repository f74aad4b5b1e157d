"""The CronJob's own command line, run for real: the args, env and mounted files that deploy/ renders,
against a Git remote on loopback and the Kubernetes API emulator. A flag renamed in the CLI, a config key
driftcheck no longer reads or a path not mounted would break every night; here it breaks a test."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from testing.k8s_emulator import KubernetesEmulator
from testing.loopback import free_port, serve_git

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
APP = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  project: default
  source:
    repoURL: %s
    targetRevision: main
    path: apps/web
  destination: {namespace: web}
"""
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-settings}\ndata: {mode: fast}\n"
# Kinds across API groups, so the RBAC check below sees the requests a real repository causes.
OTHERS = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: web}
spec: {hosts: [web]}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary}
spec: {replicas: 1}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {maxUnavailable: 1}
"""


@pytest.fixture
def served_repo(git_repo: GitRepoBuilder, tmp_path: Path) -> Iterator[str]:
    """The GitOps repository behind `git daemon` on loopback; its Application points at that URL."""
    port = free_port()
    url = f"git://127.0.0.1:{port}/k8s-manifests.git"
    git_repo.commit({"argocd/web.yaml": APP % url, "apps/web/cm.yaml": CM, "apps/web/others.yaml": OTHERS},
                    "web app")
    _, daemon = serve_git(git_repo.path, tmp_path / "served", "k8s-manifests.git", port)
    yield url
    daemon.terminate()
    daemon.wait(timeout=10)


def rendered_cronjob() -> tuple[dict[str, Any], dict[str, str], dict[str, dict[str, Any]]]:
    docs = [d for d in yaml.safe_load_all(subprocess.run(["kubectl", "kustomize", str(DEPLOY)], check=True,
                                                         capture_output=True, text=True).stdout) if d]
    cron = next(d for d in docs if d["kind"] == "CronJob")
    config_maps = {d["metadata"]["name"]: d for d in docs if d["kind"] in ("ConfigMap", "Secret")}
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    env.update({e["name"]: e["value"] for e in container["env"]})
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: {**volumes[m["name"]], "readOnly": m.get("readOnly", False)}
              for m in container["volumeMounts"]}
    for volume in mounts.values():
        ref = volume.get("configMap", {}).get("name") or volume.get("secret", {}).get("secretName")
        if ref:
            volume["files"] = {**config_maps[ref].get("data", {}), **config_maps[ref].get("stringData", {})}
    return container, env, mounts


def test_the_cronjob_command_line_audits_and_archives(served_repo: str, k8s_api: KubernetesEmulator,
                                                      kubeconfig: Path, tmp_path: Path) -> None:
    container, env, mounts = rendered_cronjob()
    root = tmp_path / "pod"  # the pod's filesystem: each mount becomes a directory under it
    for path, volume in mounts.items():
        directory = root / path.lstrip("/")
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in volume.get("files", {}).items():
            (directory / name).write_text(text)
    env["DRIFTCHECK_REPO"] = served_repo  # the overlay's job; the example URL does not exist
    env = {k: str(root / v.lstrip("/")) if v.startswith(tuple(mounts)) else v for k, v in env.items()}

    def expand(arg: str) -> str:
        arg = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], arg)
        flag, _, value = arg.partition("=")
        return f"{flag}={root / value.lstrip('/')}" if value.startswith(tuple(mounts)) else arg

    args = [expand(a) for a in container["args"]]
    k8s_api.add({"apiVersion": "v1", "kind": "ConfigMap", "data": {"mode": "slow"},
                 "metadata": {"name": "web-settings", "namespace": "web"}})
    # In the pod /tmp is the emptyDir: temporary files (renders, askpass) go there, as here.
    child_env = {**os.environ, **env, "KUBECONFIG": str(kubeconfig), "TMPDIR": str(root / "tmp")}
    child_env.pop("DRIFTCHECK_GIT_TOKEN", None)
    proc = subprocess.run([sys.executable, "-m", "driftcheck.cli", *args], capture_output=True, text=True,
                          env=child_env, timeout=120)
    assert proc.returncode == 1, (args, proc.stderr)  # the planted drift, found
    assert proc.stdout == "", "--output=none: the Job's log is stderr progress only"
    out = Path(next(a for a in args if a.startswith("--out=")).split("=", 1)[1])
    [report_file] = out.rglob("report.json")
    report = json.loads(report_file.read_text())
    statuses = {(r["kind"], r["name"]): r["status"] for r in report["resources"]}
    assert statuses[("ConfigMap", "web-settings")] == "drifted"
    assert set(statuses.values()) <= {"drifted", "missing"}, "everything was readable: nothing unknown"
    assert report["source"]["repo"] == served_repo
    cache = Path(env["XDG_CACHE_HOME"])
    assert any(cache.rglob("HEAD")), "the clone is cached on the archive volume for the next night"
    written = {p for p in root.rglob("*") if p.is_file()}
    for path, volume in mounts.items():
        if volume["readOnly"]:
            assert all(p.parent != root / path.lstrip("/") or p.name in volume["files"] for p in written), \
                f"nothing written to the read-only mount {path}"
    assert {p for p in written if str(p).startswith(str(root / "tmp"))} == set(), "no litter left in /tmp"
    assert {m.method for m in k8s_api.requests} == {"GET"}
    assert_rbac_allows(k8s_api.requests)


def assert_rbac_allows(requests: list[Any]) -> None:
    """Every resource request driftcheck made is one the rendered ClusterRole grants (discovery is granted
    to every authenticated user by the cluster's own system:discovery role)."""
    docs = [d for d in yaml.safe_load_all(subprocess.run(["kubectl", "kustomize", str(DEPLOY)], check=True,
                                                         capture_output=True, text=True).stdout) if d]
    rules = next(d for d in docs if d["kind"] == "ClusterRole")["rules"]
    granted = {(group, resource, verb) for rule in rules for group in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}
    pattern = re.compile(r"^/(?:api/v1|apis/(?P<group>[^/]+)/[^/]+)(?:/namespaces/[^/]+)?/(?P<resource>[^/]+)"
                         r"(?P<name>/[^/]+)?$")
    asked = set()
    for request in requests:
        match = pattern.match(request.path)
        if request.is_discovery:
            continue
        assert match, f"a request neither discovery nor a resource read: {request.path}"
        verb = "get" if match.group("name") else "list"
        asked.add((match.group("group") or "", match.group("resource"), verb))
    assert {("", "configmaps", "list"), ("apps", "deployments", "list"),
            ("networking.istio.io", "virtualservices", "list"), ("argoproj.io", "rollouts", "list")} <= asked
    assert asked <= granted, f"driftcheck asks for what the ClusterRole does not grant: {asked - granted}"
