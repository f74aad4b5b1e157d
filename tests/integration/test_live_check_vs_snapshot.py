"""`driftcheck check` against the emulator and against a `driftcheck snapshot` of it give the same results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from driftcheck.cli import main
from testing.k8s_emulator import KubernetesEmulator

BLOG_APP = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: mysql, labels: {app: mysql}}
spec:
  replicas: 1
  selector: {matchLabels: {app: mysql}}
  template:
    metadata:
      labels: {app: mysql}
      annotations: {sidecar.istio.io/inject: "false"}
    spec:
      containers:
      - name: mysql
        image: mysql:8.0
        env:
        - name: MYSQL_ROOT_PASSWORD
          valueFrom: {secretKeyRef: {name: mysql-secret, key: mysql-root-password}}
        - {name: MYSQL_DATABASE, value: boarddb}
        ports: [{containerPort: 3306, name: mysql}]
        resources:
          requests: {cpu: 250m, memory: 512Mi}
          limits: {cpu: 500m, memory: 1Gi}
        volumeMounts: [{name: mysql-storage, mountPath: /var/lib/mysql}]
      volumes: [{name: mysql-storage, persistentVolumeClaim: {claimName: mysql-pvc}}]
---
apiVersion: v1
kind: Secret
metadata: {name: mysql-secret}
type: Opaque
stringData: {mysql-password: board-pass-2026, mysql-root-password: rotated-in-git}
---
apiVersion: v1
kind: Service
metadata: {name: web-service, labels: {app: web, tier: frontend}}
spec:
  type: ClusterIP
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 80, protocol: TCP}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-nginx-config}
data: {default.conf: "server {}"}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: web-dest-rule, labels: {app: web, tier: frontend}}
spec:
  host: web-service
  trafficPolicy: {tls: {mode: DISABLE}, loadBalancer: {simple: ROUND_ROBIN}}
  subsets: [{name: stable}, {name: canary}]
---
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: ghcr-secret}
spec: {encryptedData: {token: AgBy3i4OJSWK}}
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stderr


def check(out: Path, repo: Path, *live: str) -> tuple[int, list[dict[str, Any]]]:
    code, err = run("check", "--repo", str(repo), "--path", "apps/blog", "-n", "blog-system",
                    "--out", str(out), "--format", "json", "-o", "none", *live)
    reports = sorted(out.rglob("report.json"))
    assert reports, err
    resources = json.loads(reports[-1].read_text())["resources"]
    for resource in resources:
        resource.pop("first_seen")  # when the report archive first saw a drift: run time, not live state
    return code, resources


@pytest.fixture
def blog_repo(git_repo: Any) -> Path:
    git_repo.commit({"apps/blog/all.yaml": BLOG_APP}, "blog app")
    return Path(git_repo.path)


@pytest.fixture
def cluster(blog_api: KubernetesEmulator) -> KubernetesEmulator:
    """blog-system live, SealedSecret CRD not installed, ServiceAccounts not readable (RBAC)."""
    blog_api.unserve("bitnami.com", "SealedSecret")
    blog_api.forbid("serviceaccounts", namespace="blog-system")
    return blog_api


def test_check_from_the_api_equals_check_from_a_snapshot_of_it(cluster: KubernetesEmulator, kubeconfig: Path,
                                                             blog_repo: Path, tmp_path: Path) -> None:
    live_code, from_api = check(tmp_path / "api", blog_repo, "--kubeconfig", str(kubeconfig),
                                "--context", "emulator")
    code, err = run("snapshot", "--out", str(tmp_path / "snap.yaml"), "--kubeconfig", str(kubeconfig),
                    "--repo", str(blog_repo), "--path", "apps/blog", "-n", "blog-system",
                    "--include-secret-values")
    assert code == 0, err
    cluster.reset_log()
    snap_code, from_snapshot = check(tmp_path / "offline", blog_repo,
                                     "--live-snapshot", str(tmp_path / "snap.yaml"))
    assert not cluster.requests, "an offline check must not touch the API server"
    assert from_snapshot == from_api
    assert snap_code == live_code == 2  # unknown entries make the exit code 2
    statuses = {(r["kind"], r["name"]): (r["status"], r.get("reason", "")) for r in from_api}
    print(f"\n{len(from_api)} resource results identical from the API and from the snapshot: "
          f"{sorted(s for s, _ in statuses.values())}")
    assert statuses[("Deployment", "mysql")][0] == "drifted"
    assert statuses[("Secret", "mysql-secret")][0] == "drifted"
    assert statuses[("ConfigMap", "web-nginx-config")][0] == "missing"
    assert statuses[("SealedSecret", "ghcr-secret")] == (
        "unknown", "resource type not served by the cluster (CRD not installed?)")
    assert statuses[("ServiceAccount", "web")] == (
        "unknown", "forbidden: list serviceaccounts in blog-system")


SECRET = ("Secret", "mysql-secret")


def redacted_run(kubeconfig: Path, blog_repo: Path, tmp_path: Path) -> tuple[list[dict], list[dict]]:
    _, from_api = check(tmp_path / "api", blog_repo, "--kubeconfig", str(kubeconfig))
    code, err = run("snapshot", "--out", str(tmp_path / "snap.yaml"), "--kubeconfig", str(kubeconfig),
                    "--repo", str(blog_repo), "--path", "apps/blog", "-n", "blog-system")
    assert code == 0, err
    _, from_snapshot = check(tmp_path / "offline", blog_repo, "--live-snapshot", str(tmp_path / "snap.yaml"))
    return from_api, from_snapshot


def test_redacted_snapshot_changes_nothing_but_the_secret(cluster: KubernetesEmulator, kubeconfig: Path,
                                                          blog_repo: Path, tmp_path: Path) -> None:
    from_api, from_snapshot = redacted_run(kubeconfig, blog_repo, tmp_path)
    assert [r for r in from_snapshot if (r["kind"], r["name"]) != SECRET] == [
        r for r in from_api if (r["kind"], r["name"]) != SECRET]
    assert "czNjcjN0LXJvb3QtcHc=" not in json.dumps(from_snapshot)


def test_redacted_secret_says_its_values_were_not_compared(cluster: KubernetesEmulator, kubeconfig: Path,
                                                           blog_repo: Path, tmp_path: Path) -> None:
    _, from_snapshot = redacted_run(kubeconfig, blog_repo, tmp_path)
    [secret] = [r for r in from_snapshot if (r["kind"], r["name"]) == SECRET]
    assert secret["status"] != "in-sync" or "redacted in snapshot" in json.dumps(secret)


def test_snapshot_of_common_kinds_gives_the_same_results(cluster: KubernetesEmulator, kubeconfig: Path,
                                                         blog_repo: Path, tmp_path: Path) -> None:
    """Without --repo the snapshot holds more kinds; check reads only what Git uses from it, and a kind
    the snapshot never asked for is still told apart: not served by the cluster, or not captured."""
    _, from_api = check(tmp_path / "api", blog_repo, "--kubeconfig", str(kubeconfig))
    code, err = run("snapshot", "--out", str(tmp_path / "snap.yaml"), "--kubeconfig", str(kubeconfig),
                    "-n", "blog-system", "--include-secret-values")
    assert code == 0, err
    _, from_snapshot = check(tmp_path / "offline", blog_repo, "--live-snapshot", str(tmp_path / "snap.yaml"))
    assert from_snapshot == from_api

    code, err = run("snapshot", "--out", str(tmp_path / "deployments.yaml"), "--kubeconfig", str(kubeconfig),
                    "-n", "blog-system", "--kinds", "deploy")
    assert code == 0, err
    _, partial = check(tmp_path / "partial", blog_repo, "--live-snapshot", str(tmp_path / "deployments.yaml"))
    reasons = {r["kind"]: r.get("reason", "") for r in partial if r["status"] == "unknown"}
    assert reasons["SealedSecret"] == "resource type not served by the cluster (CRD not installed?)"
    assert reasons["ConfigMap"] == f"not captured in snapshot {tmp_path / 'deployments.yaml'}"
    assert set(reasons) == {"SealedSecret", "ConfigMap", "Secret", "Service", "ServiceAccount",
                            "DestinationRule"}, "only the Deployment was captured, so only it is compared"


def test_a_selector_narrows_git_as_it_narrows_the_cluster(cluster: KubernetesEmulator, kubeconfig: Path,
                                                          blog_repo: Path, tmp_path: Path) -> None:
    _, from_api = check(tmp_path / "api", blog_repo, "--kubeconfig", str(kubeconfig), "-l", "app=web")
    assert sorted((r["kind"], r["name"]) for r in from_api) == [("DestinationRule", "web-dest-rule"),
                                                                ("Service", "web-service")]
    assert all(r["status"] != "missing" for r in from_api), "an object the selector leaves out is not missing"
    code, err = run("snapshot", "--out", str(tmp_path / "snap.yaml"), "--kubeconfig", str(kubeconfig),
                    "--repo", str(blog_repo), "--path", "apps/blog", "-n", "blog-system", "-l", "app=web")
    assert code == 0, err
    _, offline = check(tmp_path / "offline", blog_repo, "--live-snapshot", str(tmp_path / "snap.yaml"),
                       "-l", "app=web")
    assert offline == from_api
    _, unselected = check(tmp_path / "all", blog_repo, "--live-snapshot", str(tmp_path / "snap.yaml"))
    assert {r["status"] for r in unselected} == {"unknown"}, "a selected snapshot cannot vouch for the rest"
    reasons = {r["kind"]: r["reason"] for r in unselected}
    assert reasons["Service"] == f"snapshot {tmp_path / 'snap.yaml'} holds only objects selected by 'app=web'"
    assert reasons["Deployment"] == f"not captured in snapshot {tmp_path / 'snap.yaml'}"
