"""A namespace from Git or the command line that Kubernetes could never hold (`prod/secrets#`,
`x/../../secrets#`) is never put into a LIST URL: what Git wants there is `unknown`, naming the namespace,
and no Secret is ever read in its place."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from driftcheck.live.cluster import ClusterReader
from driftcheck.live.connection import RetryPolicy
from driftcheck.live.discovery import ApiType
from testing import planted
from testing.k8s_emulator import KubernetesEmulator

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

HOSTILE = ["prod/secrets#", "x/../../secrets#", "prod/secrets?x=", "..", "prod%2Fsecrets"]
FAST_RETRY = RetryPolicy(attempts=2, backoff=0.05, max_backoff=0.1, connect_deadline=2, first_contact=5)


@pytest.fixture
def secret_value() -> str:
    return planted.secret("prod-db-password")


@pytest.fixture
def prod_api(secret_value: str) -> Iterator[KubernetesEmulator]:
    password = base64.b64encode(secret_value.encode()).decode()
    with KubernetesEmulator(token="namespace-test-token") as api:
        api.add({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"password": password},
                 "metadata": {"name": "db-credentials", "namespace": "prod"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "db-credentials",
                                                                       "namespace": "prod"}})
        yield api


@pytest.fixture
def kubeconfig(prod_api: KubernetesEmulator, tmp_path: Path) -> Path:
    return prod_api.write_kubeconfig(tmp_path / "kubeconfig")


def secret_requests(api: KubernetesEmulator) -> list[str]:
    return [r.path for r in api.requests if "secrets" in r.path]


@pytest.mark.parametrize("namespace", HOSTILE)
def test_a_namespace_that_would_rewrite_the_url_is_not_sent_and_its_objects_are_unknown(
        prod_api: KubernetesEmulator, kubeconfig: Path, namespace: str, secret_value: str) -> None:
    state = ClusterReader(str(kubeconfig), retry=FAST_RETRY).read({("", "ConfigMap")}, {"prod", namespace})
    assert not secret_requests(prod_api)
    assert f"namespace {namespace!r} not read" in state.unreadable[("", "ConfigMap", namespace)]
    assert [(r.key.kind, r.key.namespace, r.key.name) for r in state.resources] == [
        ("ConfigMap", "prod", "db-credentials")], "the valid namespace is still read, nothing else"
    assert secret_value not in json.dumps([r.body for r in state.resources])


def test_only_invalid_namespaces_read_nothing_rather_than_every_namespace(prod_api: KubernetesEmulator,
                                                                         kubeconfig: Path) -> None:
    state = ClusterReader(str(kubeconfig), retry=FAST_RETRY).read({("", "ConfigMap")}, {"x/../.."})
    assert not state.resources
    assert not [r for r in prod_api.requests if r.path.endswith("/configmaps")], "never a cluster-wide LIST"


def test_every_list_path_segment_is_percent_encoded_and_dot_segments_refused() -> None:
    odd = ApiType("example.com", "v1", "Widget", "wid gets", True)
    assert odd.list_path("prod") == "/apis/example.com/v1/namespaces/prod/wid%20gets"
    with pytest.raises(Exception, match=r"may not be '\.\.'"):
        ApiType("", "v1", "Widget", "..", True).list_path()


@pytest.mark.parametrize("command", ["check", "snapshot-of-repo", "snapshot"])
def test_the_cli_with_a_hostile_namespace_never_reads_or_prints_a_secret(
        prod_api: KubernetesEmulator, kubeconfig: Path, git_repo: GitRepoBuilder, tmp_path: Path,
        command: str) -> None:
    """From the app's destination (check, snapshot of a repo) or straight from -n (snapshot --kinds)."""
    git_repo.commit({"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: db-credentials}\n"
                                    "data: {password: x}\n"}, "a map named like the Secret")
    out = tmp_path / ("out" if command == "check" else "snap.yaml")
    args = {"check": ["check", "--repo", str(git_repo.path), "--path", "app",
                      "--format", "html,json,md,junit", "--explain", "ConfigMap/db-credentials"],
            "snapshot-of-repo": ["snapshot", "--repo", str(git_repo.path), "--path", "app"],
            "snapshot": ["snapshot", "--kinds", "configmaps"]}[command]
    done = planted.run_cli([*args, "-n", "x/../../secrets#", "--kubeconfig", str(kubeconfig),
                            "--out", str(out)], tmp_path / "logs")
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert not secret_requests(prod_api)
    written = "".join(p.read_text() for p in ([out] if out.is_file() else out.rglob("report.json")))
    assert "x/../../secrets#" in done.stderr + done.stdout + written, "the namespace is named"
    # the session-end scan also checks every file written (reports, snapshot) for the planted value
