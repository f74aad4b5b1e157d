"""Kubeconfig credentials never reach any output: a token file written with `echo` works (trimmed as kubectl
does), a token that cannot be sent is one clear line without it, an exec plugin's stderr is not copied to
ours, every credential is known to the scrubber, and skipping TLS verification is said once."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from driftcheck import scrub
from driftcheck.live.connection import Connection
from driftcheck.model import DriftcheckError
from testing import planted
from testing.k8s_emulator import KubernetesEmulator

if TYPE_CHECKING:
    from conftest import GitRepoBuilder


def kubeconfig(path: Path, server: str, user: dict[str, Any], insecure: bool = False) -> Path:
    cluster: dict[str, Any] = {"server": server, **({"insecure-skip-tls-verify": True} if insecure else {})}
    return planted.write_input(path, yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": cluster}], "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}))


@pytest.fixture
def app_repo(git_repo: GitRepoBuilder) -> GitRepoBuilder:
    git_repo.commit({"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"}, "one map")
    return git_repo


def check(repo: GitRepoBuilder, config: Path, tmp_path: Path) -> Any:
    return planted.run_cli(["check", "--repo", str(repo.path), "--path", "app", "-n", "demo", "--kubeconfig",
                            str(config), "--out", str(tmp_path / "out"), "-o", "none"], tmp_path / "logs")


def test_a_token_file_ending_in_a_newline_authenticates_and_is_never_printed(
        app_repo: GitRepoBuilder, tmp_path: Path) -> None:
    token = planted.secret("token-file")
    with KubernetesEmulator(token=token) as api:
        api.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "demo"}})
        token_file = planted.write_input(tmp_path / "token", token + "\n")  # echo "$TOKEN" > token
        done = check(app_repo, kubeconfig(tmp_path / "kc.yaml", api.url, {"tokenFile": str(token_file)}),
                     tmp_path)
    assert done.returncode == 0, done.stderr
    assert token not in done.stderr + done.stdout


def test_a_token_holding_a_line_break_is_one_clear_error_without_the_token(app_repo: GitRepoBuilder,
                                                                           tmp_path: Path) -> None:
    token = planted.secret("inner-newline")
    with KubernetesEmulator(token=token) as api:
        config = kubeconfig(tmp_path / "kc.yaml", api.url, {"token": f"{token[:10]}\n{token[10:]}"})
        done = check(app_repo, config, tmp_path)
    assert done.returncode == 2
    [line] = [ln for ln in done.stderr.splitlines() if ln.startswith("driftcheck: error:")]
    assert "white space or control characters" in line
    assert token[:10] not in done.stderr and token[10:] not in done.stderr
    assert "internal error" not in done.stderr


def test_an_exec_plugin_that_fails_is_one_line_and_its_stderr_is_not_copied(app_repo: GitRepoBuilder,
                                                                            tmp_path: Path) -> None:
    leaked = planted.secret("exec-stderr")
    config = kubeconfig(tmp_path / "kc.yaml", "https://127.0.0.1:1", {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "/bin/sh",
        "args": ["-c", f"echo token {leaked} expired >&2; exit 1"]}})
    done = check(app_repo, config, tmp_path)
    assert done.returncode == 2
    assert leaked not in done.stderr + done.stdout
    [line] = [ln for ln in done.stderr.splitlines() if "exec credential plugin failed" in ln]
    assert "process returned 1" in line and "ERROR:root" not in done.stderr


def test_skipping_tls_verification_is_one_warning_line(app_repo: GitRepoBuilder, tmp_path: Path) -> None:
    with KubernetesEmulator(token="tls-test-token", tls=True) as api:
        config = kubeconfig(tmp_path / "kc.yaml", api.url, {"token": "tls-test-token"}, insecure=True)
        done = check(app_repo, config, tmp_path)
    assert done.returncode in (0, 1), done.stderr
    warnings = [ln for ln in done.stderr.splitlines() if "insecure-skip-tls-verify" in ln.lower()
                or "InsecureRequestWarning" in ln]
    assert len(warnings) == 1 and warnings[0].startswith("driftcheck: warning: context c:"), done.stderr


def test_every_kubeconfig_credential_is_known_to_the_scrubber_even_in_the_clients_errors(
        tmp_path: Path) -> None:
    """Registered before the client reads the file: its own error (which quotes the user entry) is clean."""
    password, key_body, provider_token = (planted.secret(x) for x in ("password", "key", "provider"))
    key = f"-----BEGIN PRIVATE KEY-----\n{key_body}\n-----END PRIVATE KEY-----\n"
    key_data = base64.b64encode(key.encode()).decode()
    config = kubeconfig(tmp_path / "kc.yaml", "http://127.0.0.1:1", {
        "username": "admin", "password": password, "client-key-data": key_data,
        "auth-provider": {"name": "oidc", "config": {"refresh-token": provider_token}}})  # no id-token
    with pytest.raises(DriftcheckError) as failed:
        Connection(str(config))
    assert "Expected key id-token" in str(failed.value)
    text = json.dumps([password, key_body, key_data, provider_token]) + str(failed.value)
    assert not any(secret in scrub.scrub(text) for secret in (password, key_body, key_data, provider_token))
    assert not any(secret in str(failed.value) for secret in (password, key_data, provider_token))
