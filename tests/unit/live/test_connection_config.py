"""Connection set-up without a server: which credentials are used, what a report may show, retry timing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from driftcheck.live import kubeconfig as kubeconfig_module
from driftcheck.live.connection import CONNECT_TIMEOUT, Connection, RetryPolicy, strip_credentials
from driftcheck.model import DriftcheckError


def kubeconfig(path: Path, context: str, server: str, current: bool = True) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", **({"current-context": context} if current else {}),
        "clusters": [{"name": context, "cluster": {"server": server}}],
        "users": [{"name": context, "user": {"token": f"token-{context}"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}]}))
    return path


@pytest.mark.parametrize("url, shown", [
    ("https://admin:s3cret@k8s.example.com:6443", "https://k8s.example.com:6443"),
    ("https://k8s.example.com:6443/", "https://k8s.example.com:6443"),
    ("https://rancher.example.com/k8s/clusters/c-abc?token=xyz", "https://rancher.example.com/k8s/clusters/c-abc"),
    ("https://user@[fd00::1]:6443", "https://[fd00::1]:6443"),
])
def test_server_url_never_carries_credentials(url: str, shown: str) -> None:
    assert strip_credentials(url) == shown


def test_kubeconfig_variable_with_two_files_merges_them(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    first = kubeconfig(tmp_path / "a", "prod", "https://ops:pw@prod.example.com:6443")
    second = kubeconfig(tmp_path / "b", "staging", "https://staging.example.com:6443", current=False)
    monkeypatch.setenv("KUBECONFIG", f"{first}{os.pathsep}{second}")
    assert Connection().context == "prod"
    chosen = Connection(context="staging")
    assert (chosen.context, chosen.server) == ("staging", "https://staging.example.com:6443")
    assert Connection().server == "https://prod.example.com:6443"


def test_explicit_kubeconfig_beats_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "env", "env", "https://env.example.com")))
    explicit = kubeconfig(tmp_path / "flag", "flag", "https://flag.example.com")
    assert Connection(str(explicit)).context == "flag"


def test_no_current_context_asks_for_one(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "k", "only", "https://x.example.com", current=False)
    with pytest.raises(DriftcheckError, match=r"has no current context; pass --context \(one of: only\)"):
        Connection(str(path))


def test_broken_kubeconfig_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("clusters: [oops\n")
    with pytest.raises(DriftcheckError) as err:
        Connection(str(tmp_path / "k"))
    assert str(err.value).startswith(f"kubeconfig {tmp_path / 'k'}: ") and "\n" not in str(err.value)


def test_inside_a_pod_without_kubeconfig_the_service_account_is_used(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("pod-token")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setattr(kubeconfig_module, "SERVICE_ACCOUNT_DIR", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    in_pod = Connection()
    assert (in_pod.context, in_pod.server) == ("in-cluster", "https://10.96.0.1:443")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "k", "laptop", "https://l.example.com")))
    assert Connection().context == "laptop", "a kubeconfig the user points to wins over the Pod's account"


def test_backoff_grows_is_capped_and_retry_after_wins() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=4.0, max_retry_after=30.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert policy.delay(1, retry_after=7) == 7 and policy.delay(3, retry_after=600) == 30.0


def test_default_policy_gives_up_on_an_unreachable_server_within_30_seconds() -> None:
    """Retries stop once the next wait would pass connect_deadline; the last try is one connect timeout."""
    policy = RetryPolicy()
    assert policy.connect_deadline + CONNECT_TIMEOUT < 30


@pytest.mark.parametrize("server, cause", [
    ("not a url", "Host 'not a url' contains invalid character ' '"),
    ("https://", "No host specified."),
    ("ftp://k8s.example.com", "Not supported URL scheme ftp"),
])
def test_a_malformed_server_url_is_one_clear_error(tmp_path: Path, server: str, cause: str) -> None:
    config = Connection(str(kubeconfig(tmp_path / "k", "broken", server)), retry=RetryPolicy(attempts=1))
    with pytest.raises(DriftcheckError) as err:
        config.get("/version")
    assert str(err.value).startswith("cannot talk to the Kubernetes API server ") and cause in str(err.value)
    assert config.requests == 1
