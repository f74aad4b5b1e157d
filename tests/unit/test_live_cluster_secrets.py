"""ArgoCD cluster Secrets read live (--argocd-namespace): what each becomes (a cluster of the directory and
its way in, or a clear error/skip), which reader serves a destination (a mapping, then the run's own
cluster, then the Secret), and the in-memory client configuration their credentials make."""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest

from driftcheck import scrub
from driftcheck.clusters.plan import plan_destinations
from driftcheck.clusters.secrets import live_clusters
from driftcheck.commands.options import ClusterOptions
from driftcheck.live.memory_credentials import MemoryCredentials, close_files, memory_configuration
from driftcheck.model import App, AppSource, ClusterRef, DefinedBy, Destination, DriftcheckError, GitSource

LOCAL = "http://127.0.0.1:8443"


def secret(name: str, server: str | None = "https://eu.example.com", config: Any = None,
           **labels: str) -> dict[str, Any]:
    data = {"name": name, **({"server": server} if server else {}),
            **({"config": config if isinstance(config, str) else json.dumps(config)} if config is not None
               else {})}
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": f"c-{name}", "namespace": "argocd",
                         "labels": {"argocd.argoproj.io/secret-type": "cluster", **labels}},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def app(name: str, cluster: str) -> App:
    return App(name, (AppSource(GitSource(path=name)),), Destination(ClusterRef(name=cluster), "default"),
               defined_by=DefinedBy("argocd-application", f"cluster Application argocd/{name}", 0))


def test_a_secret_with_a_token_is_a_cluster_with_its_credentials() -> None:
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
    found = live_clusters([secret("eu", config={"bearerToken": "tok-1", "tlsClientConfig": {
        "caData": ca, "serverName": "eu.internal"}}, env="prod")], "argocd")
    [cluster] = found.clusters
    assert (cluster.name, cluster.server, cluster.labels["env"]) == ("eu", "https://eu.example.com", "prod")
    way_in = found.by_server["https://eu.example.com"]
    assert way_in.credentials is not None and way_in.source == "Secret argocd/c-eu"
    assert way_in.credentials.bearer_token == "tok-1" and way_in.credentials.server_name == "eu.internal"
    assert way_in.credentials.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert "tok-1" not in scrub.scrub("token tok-1") and "tok-1" not in repr(way_in)
    assert not found.errors


@pytest.mark.parametrize(("config", "reason"), [
    ({"execProviderConfig": {"command": "argocd-k8s-auth"}, "bearerToken": "x"},
     "an exec credential plugin (execProviderConfig) is not supported"),
    ({"awsAuthConfig": {"clusterName": "eks-eu"}}, "AWS IAM authentication (awsAuthConfig) is not supported"),
    ({"username": "admin", "password": "pw-1"}, "a user name and password is not supported"),
    ({}, "its config holds no bearerToken"),
])
def test_clusters_driftcheck_cannot_reach_say_why(config: dict[str, Any], reason: str) -> None:
    found = live_clusters([secret("eu", config=config)], "argocd")
    assert [c.name for c in found.clusters] == ["eu"]  # still a cluster: names resolve, generators see it
    way_in = found.by_server["https://eu.example.com"]
    assert (way_in.credentials, way_in.unsupported) == (None, reason)


def test_bad_secrets_are_errors_naming_them_and_the_rest_goes_on() -> None:
    found = live_clusters([secret("nowhere", server=None), secret("eu", config="{not json"),
                           secret("us", server="https://us.example.com", config={
                               "bearerToken": "t", "tlsClientConfig": {"caData": "%%%"}}),
                           secret("ok", server="https://ok.example.com", config={"bearerToken": "t"})],
                          "argocd")
    assert [(e.file, e.message) for e in found.errors] == [
        ("Secret argocd/c-nowhere", "cluster Secret c-nowhere has no server"),
        ("Secret argocd/c-eu", "cluster Secret: config is not JSON"),
        ("Secret argocd/c-us", "cluster Secret: config tlsClientConfig.caData is not base64")]
    assert str(found.errors[0]) == "Secret argocd/c-nowhere: cluster Secret c-nowhere has no server"
    assert set(found.by_server) == {"https://ok.example.com"}


def run_plan(apps: list[App], secrets: list[dict[str, Any]], **flags: Any) -> Any:
    found = live_clusters(secrets, "argocd")
    return plan_destinations(ClusterOptions(context="current", **flags), apps, found.clusters,
                             server_of=lambda o: LOCAL if o.context == "current" else "https://eu.example.com",
                             by_secret=found.by_server)


def test_a_destination_nothing_maps_is_read_with_its_secret() -> None:
    plan = run_plan([app("web", "eu"), app("batch", "exec")],
                    [secret("eu", config={"bearerToken": "t"}),
                     secret("exec", server="https://exec.example.com", config={"execProviderConfig": {}})])
    [run] = plan.runs
    assert (run.name, run.server, [a.name for a in run.apps]) == ("eu", "https://eu.example.com", ["web"])
    assert run.cluster.credentials is not None and run.cluster.context is None
    [skipped] = plan.skipped
    assert skipped.reason == ("destination exec: cluster Secret argocd/c-exec: an exec credential plugin "
                              "(execProviderConfig) is not supported; pass --cluster exec=CONTEXT")


def test_an_explicit_mapping_wins_over_the_secret() -> None:
    plan = run_plan([app("web", "eu")], [secret("eu", config={"bearerToken": "t"})],
                    destinations=[("eu", "ctx-eu")])
    [run] = plan.runs
    assert (run.cluster.context, run.cluster.credentials) == ("ctx-eu", None)


def test_the_runs_own_cluster_is_read_through_the_kubeconfig_not_its_secret() -> None:
    plan = run_plan([app("web", "self")], [secret("self", server=LOCAL, config={"bearerToken": "t"})])
    [run] = plan.runs
    assert (run.cluster.context, run.cluster.credentials) == ("current", None)


def pem_pair(tmp_path: Path) -> tuple[bytes, bytes]:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-subj", "/CN=driftcheck", "-keyout", str(tmp_path / "k"), "-out",
                    str(tmp_path / "c"), "-days", "1"], check=True, capture_output=True)
    return (tmp_path / "c").read_bytes(), (tmp_path / "k").read_bytes()


def test_tls_data_is_loaded_from_memory_files_that_close_with_the_connection(tmp_path: Path) -> None:
    cert, key = pem_pair(tmp_path)
    credentials = MemoryCredentials("https://eu.example.com", "Secret argocd/c-eu", "tok-2", cert, cert, key)
    configuration, fds = memory_configuration(credentials)
    assert configuration.api_key == {"BearerToken": "Bearer tok-2"}
    paths = [configuration.ssl_ca_cert, configuration.cert_file, configuration.key_file]
    assert all(str(p).startswith("/proc/self/fd/") for p in paths) and len(fds) == 3
    ssl.create_default_context(cafile=configuration.ssl_ca_cert).load_cert_chain(
        str(configuration.cert_file), str(configuration.key_file))  # what urllib3 does with them
    assert all(os.get_inheritable(fd) is False for fd in fds)  # no renderer child inherits them
    key_line = next(line for line in key.decode().splitlines() if "-----" not in line)
    assert key_line not in scrub.scrub(f"oops {key_line}")
    close_files(fds)
    assert not fds and not Path(paths[0]).exists()


@pytest.mark.parametrize("token", ["", "two words", "ctrl\x07"])
def test_a_token_that_cannot_be_sent_is_one_clear_error(token: str) -> None:
    with pytest.raises(DriftcheckError, match=r"^Secret argocd/c-eu: the bearer token is empty or holds"):
        memory_configuration(MemoryCredentials("https://eu.example.com", "Secret argocd/c-eu", token))


def test_a_token_sent_over_plain_http_is_warned_about(capsys: pytest.CaptureFixture[str]) -> None:
    configuration, fds = memory_configuration(MemoryCredentials("http://eu.example.com", "Secret argocd/c-eu",
                                                                "tok-3", insecure=True))
    assert (configuration.host, configuration.verify_ssl, fds) == ("http://eu.example.com", False, [])
    err = capsys.readouterr().err
    assert "Secret argocd/c-eu: the server is plain http://, the bearer token is sent unencrypted" in err
    assert "Secret argocd/c-eu: tlsClientConfig.insecure is set" in err and "tok-3" not in err
