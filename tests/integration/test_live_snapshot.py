"""Snapshots of the emulator: round trip through read_snapshot, Secret redaction, `driftcheck snapshot`."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from driftcheck.cli import main
from driftcheck.kube import LAST_APPLIED, REDACTED
from driftcheck.live.cluster import ClusterReader
from driftcheck.live.connection import RetryPolicy
from driftcheck.live.snapshot import read_snapshot, write_snapshot
from testing.k8s_emulator import BLOG_SYSTEM_LIVE, KubernetesEmulator

# production retries with short waits, so fault tests stay fast; Retry-After is still honoured
FAST_RETRY = RetryPolicy(attempts=4, backoff=0.05, max_backoff=0.2, connect_deadline=5.0)
KINDS = {("apps", "Deployment"), ("argoproj.io", "Rollout"), ("networking.istio.io", "DestinationRule"),
         ("", "Secret"), ("", "Service"), ("", "ConfigMap"), ("", "Namespace"),
         ("bitnami.com", "SealedSecret")}
SECRET_VALUES = ("Ym9hcmQtcGFzcy0yMDI2", "czNjcjN0LXJvb3QtcHc=")


def test_snapshot_round_trip_gives_the_same_live_state(blog_api: KubernetesEmulator, kubeconfig: Path,
                                                       tmp_path: Path) -> None:
    blog_api.unserve("bitnami.com", "SealedSecret")
    blog_api.forbid("configmaps", namespace="blog-system")
    live = ClusterReader(str(kubeconfig), retry=FAST_RETRY).read(KINDS, {"blog-system"})
    write_snapshot(live, tmp_path / "snap.yaml", include_secret_values=True)
    offline = read_snapshot(tmp_path / "snap.yaml", KINDS, {"blog-system"})
    assert {r.key: r.body for r in offline.resources} == {r.key: r.body for r in live.resources}
    assert {r.key: r.api_version for r in offline.resources} == {r.key: r.api_version for r in live.resources}
    assert offline.unreadable == live.unreadable == {
        ("", "ConfigMap", "blog-system"): "forbidden: list configmaps in blog-system"}
    assert offline.not_served == live.not_served == {("bitnami.com", "SealedSecret")}
    assert live.cluster_scoped <= offline.cluster_scoped
    for field in ("server", "context", "kubernetes_version", "time"):
        assert offline.info[field] == live.info[field]
    assert offline.requests == 0 and all(r.origin.kind == "snapshot" for r in offline.resources)


def test_snapshot_redacts_secret_values_unless_asked(blog_api: KubernetesEmulator, kubeconfig: Path,
                                                     tmp_path: Path) -> None:
    live = ClusterReader(str(kubeconfig), retry=FAST_RETRY).read({("", "Secret")}, {"blog-system"})
    write_snapshot(live, tmp_path / "redacted.yaml")
    text = (tmp_path / "redacted.yaml").read_text()
    for value in SECRET_VALUES:
        assert value not in text and base64.b64decode(value).decode() not in text
    [secret] = read_snapshot(tmp_path / "redacted.yaml").resources
    assert secret.body["data"] == {"mysql-password": REDACTED, "mysql-root-password": REDACTED}
    assert REDACTED in secret.body["metadata"]["annotations"][LAST_APPLIED]
    write_snapshot(live, tmp_path / "full.yaml", include_secret_values=True)
    [kept] = read_snapshot(tmp_path / "full.yaml").resources
    assert tuple(kept.body["data"].values()) == SECRET_VALUES


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_snapshot_command_defaults_to_common_kinds_and_crds(blog_api: KubernetesEmulator, kubeconfig: Path,
                                                            tmp_path: Path) -> None:
    blog_api.forbid("secrets")
    code, out, err = run_cli("snapshot", "--out", str(tmp_path / "s.yaml"), "--kubeconfig", str(kubeconfig),
                             "-n", "blog-system")
    assert code == 0, err
    assert out.startswith(f"wrote {tmp_path / 's.yaml'}: 6 objects of ")
    assert "warning: not captured: forbidden: list secrets in blog-system" in err
    state = read_snapshot(tmp_path / "s.yaml")
    assert sorted(str(r.key) for r in state.resources) == [
        "ConfigMap/blog-system/was-config", "Deployment.apps/blog-system/mysql",
        "DestinationRule.networking.istio.io/blog-system/web-dest-rule", "Namespace/blog-system",
        "Rollout.argoproj.io/blog-system/web", "Service/blog-system/web-service"]
    scope = state.info["scope"]
    assert {("bitnami.com", "SealedSecret"), ("security.istio.io", "AuthorizationPolicy"),
            ("apps", "StatefulSet")} <= scope["kinds"], "CRD and common kinds are captured, even if empty"
    assert ("", "Pod") not in scope["kinds"] and scope["namespaces"] == {"blog-system"}
    offline = read_snapshot(tmp_path / "s.yaml", {("", "Secret"), ("apps", "Deployment")}, {"blog-system"})
    assert offline.unreadable == {("", "Secret", "blog-system"): "forbidden: list secrets in blog-system"}
    assert {m.method for m in blog_api.requests} == {"GET"}


def test_snapshot_command_takes_kubectl_kind_names(blog_api: KubernetesEmulator, kubeconfig: Path,
                                                   tmp_path: Path) -> None:
    code, out, err = run_cli("snapshot", "--out", str(tmp_path / "s.yaml"), "--kubeconfig", str(kubeconfig),
                             "--kinds", "deploy,Rollout.argoproj.io,dr", "-A", "-l", "app")
    assert code == 0, err
    assert "3 objects of 3 kinds in all namespaces" in out
    code, _, err = run_cli("snapshot", "--out", str(tmp_path / "t.yaml"), "--kubeconfig", str(kubeconfig),
                           "--kinds", "deploy,Widget")
    assert code == 2 and err.strip().splitlines()[-1] == (
        "driftcheck: error: --kinds Widget: the cluster serves no such kind")
    assert not (tmp_path / "t.yaml").exists()


def test_snapshot_command_captures_what_check_reads_for_an_app(blog_api: KubernetesEmulator, kubeconfig: Path,
                                                               tmp_path: Path, git_repo: Any) -> None:
    """git_repo is tests/conftest.py's GitRepoBuilder (`conftest` here names the integration one)."""
    manifests = [d for d in yaml.safe_load_all(BLOG_SYSTEM_LIVE.read_text())
                 if d["kind"] in ("Deployment", "Service")]
    for doc in manifests:
        doc["metadata"] = {"name": doc["metadata"]["name"]}
    git_repo.commit({"apps/blog/all.yaml": yaml.safe_dump_all(manifests)}, "blog app")
    code, _, err = run_cli("snapshot", "--out", str(tmp_path / "s.yaml"), "--kubeconfig", str(kubeconfig),
                           "--repo", str(git_repo.path), "--path", "apps/blog", "-n", "blog-system")
    assert code == 0, err
    state = read_snapshot(tmp_path / "s.yaml")
    assert state.info["scope"]["kinds"] == {("apps", "Deployment"), ("", "Service")}
    assert state.info["scope"]["namespaces"] == {"blog-system"}
    assert sorted(r.key.name for r in state.resources) == ["mysql", "web-service"]


@pytest.mark.parametrize("args, message", [
    (("-n", "a", "-n", "b", "--path", "x"), "with --path, give one -n"),
    (("--context", "nope"), "context 'nope' not found in kubeconfig"),
])
def test_snapshot_command_errors_are_one_line(kubeconfig: Path, tmp_path: Path, args: tuple[str, ...],
                                              message: str) -> None:
    code, _, err = run_cli("snapshot", "--out", str(tmp_path / "s.yaml"), "--kubeconfig", str(kubeconfig),
                           *args)
    assert code == 2 and message in err and "Traceback" not in err
