"""`check --argocd-namespace argocd` as an audit of a whole ArgoCD instance, against two API emulators.

The run's cluster holds, in `argocd`, the Applications, argocd-cm (an ignore rule the report shows in
force) and cluster Secrets: one with a bearer token and the CA of a second emulator (HTTPS, accepting only
that token), one reached by an exec plugin, one without a server. The second cluster's app is audited
through the Secret's credentials with no --cluster flag, and its token reaches no output. Without the
opt-in RBAC the Secrets LIST is forbidden: one note, and the run goes on.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testing import planted
from testing.k8s_emulator import DEFAULT_RESOURCES, ApiResource, KubernetesEmulator

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

URL = "https://git.example.com/org/instance.git"
APPLICATIONS = ApiResource("argoproj.io", ("v1alpha1",), "Application", "applications", True, ("app",))
SECRETS_PATH = "/api/v1/namespaces/argocd/secrets"
IGNORE_HINT = "jsonPointers: [/data/replicas-hint]\n"  # argocd-cm's split key for ConfigMaps


def application(app: str, path: str, namespace: str, **destination: str) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": app, "namespace": "argocd"},
            "spec": {"project": "default", "source": {"repoURL": URL, "targetRevision": "HEAD", "path": path},
                     "destination": {"namespace": namespace, **destination}}}


def config_map(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/instance": name}}, "data": data}


def cluster_secret(name: str, server: str | None, config: dict[str, Any]) -> dict[str, Any]:
    data = {"name": name, "config": json.dumps(config), **({"server": server} if server else {})}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": f"cluster-{name}", "namespace": "argocd",
                         "labels": {"argocd.argoproj.io/secret-type": "cluster", "env": "prod"}},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


@dataclass
class Instance:
    argocd: KubernetesEmulator  # the run's cluster, where ArgoCD runs
    remote: KubernetesEmulator  # reached only through its cluster Secret
    token: str
    kubeconfig: Path


@pytest.fixture
def instance(tmp_path: Path, git_repo: GitRepoBuilder) -> Iterator[Instance]:
    git_repo.commit({"apps/web/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, labels: {app.kubernetes.io/instance: web}}\n"
        "data: {mode: blue, replicas-hint: '2'}\n"),
        "apps/api/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api, labels: {app.kubernetes.io/instance: api}}\n"
        "data: {mode: green}\n")}, "apps")
    token = planted.secret("cluster-secret-token")
    with KubernetesEmulator(token="argocd-reader", resources=(*DEFAULT_RESOURCES, APPLICATIONS)) as argocd, \
            KubernetesEmulator(token=token, tls=True) as remote:
        remote.add(config_map("api", "api", mode="green"))
        ca = base64.b64encode(remote.ca_certificate).decode()
        argocd.add(
            application("web", "apps/web", "web", server="https://kubernetes.default.svc"),
            application("api", "apps/api", "api", name="remote"),
            application("batch", "apps/api", "api", name="exec-cluster"),
            config_map("web", "web", mode="blue", **{"replicas-hint": "5"}),  # differs only where ignored
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "argocd-cm", "namespace": "argocd"},
             "data": {"application.instanceLabelKey": "app.kubernetes.io/instance",
                      "application.resourceTrackingMethod": "label",
                      "resource.customizations.ignoreDifferences.ConfigMap": IGNORE_HINT}},
            cluster_secret("remote", remote.url, {"bearerToken": token, "tlsClientConfig": {"caData": ca}}),
            cluster_secret("exec-cluster", "https://exec.example.com", {"execProviderConfig": {
                "command": "argocd-k8s-auth", "args": ["aws"],
                "apiVersion": "client.authentication.k8s.io/v1"}}),
            cluster_secret("broken", None, {"bearerToken": "unused"}))
        yield Instance(argocd, remote, token, argocd.write_kubeconfig(tmp_path / "kubeconfig"))


def check(instance: Instance, repo: Path, tmp_path: Path) -> tuple[int, str, str, Path]:
    out = tmp_path / "out"
    proc = planted.run_cli(["check", "--repo", str(repo), "--repo-url", URL, "--kubeconfig",
                            str(instance.kubeconfig), "--argocd-namespace", "argocd", "--out", str(out),
                            "--format", "json,html,md", "-o", "table"], tmp_path / "logs")
    return proc.returncode, proc.stdout, proc.stderr, out


def report(out: Path, context: str) -> dict[str, Any]:
    """The report of the cluster read through `context` (a kubeconfig context, or a Secret)."""
    [found] = [doc for path in sorted(out.glob("*/*/report.json"))
               if (doc := json.loads(path.read_text()))["cluster"]["context"] == context]
    return found


def test_the_instance_is_audited_with_what_its_namespace_holds(instance: Instance, git_repo: GitRepoBuilder,
                                                               tmp_path: Path) -> None:
    code, stdout, stderr, out = check(instance, git_repo.path, tmp_path)
    assert "argocd settings: ConfigMap argocd/argocd-cm in the cluster" in stderr, stderr
    assert "argocd secrets: 3 clusters" not in stderr  # the one without a server is an error, not a cluster
    assert "argocd secrets: 2 clusters, 0 repository credentials in namespace argocd" in stderr, stderr

    remote = report(out, "Secret argocd/cluster-remote")  # its token and CA: no --cluster flag
    assert remote["cluster"]["server"] == instance.remote.url
    assert {f"{r['app']}/{r['name']}": r["status"] for r in remote["resources"]} == {"api/api": "in-sync"}
    assert any(r.path == "/api/v1/namespaces/api/configmaps" for r in instance.remote.requests)
    assert {r.method for r in instance.remote.requests} == {"GET"}

    local = report(out, "emulator")  # live replicas-hint differs: the cluster's argocd-cm ignores it
    [web] = local["resources"]
    rule = "argocd-cm:resource.customizations.ignoreDifferences.ConfigMap#0"
    assert (web["name"], web["status"], web["ignored"]) == ("web", "in-sync", [
        {"path": "/data/replicas-hint", "rule": rule}])
    in_force = {r["id"]: r["file"] for r in local["rules"]["in_force"]}
    assert in_force[rule].startswith("argocd-cm key resource.customizations.ignoreDifferences.ConfigMap "
                                     "(ConfigMap argocd/argocd-cm"), in_force

    skipped = {a["name"]: a.get("reason") for a in local["apps"] if a["status"] == "skipped"}
    assert skipped["batch"] == ("destination exec-cluster: cluster Secret argocd/cluster-exec-cluster: an "
                                "exec credential plugin (execProviderConfig) is not supported; pass "
                                "--cluster exec-cluster=CONTEXT")
    assert any(e["file"] == "Secret argocd/cluster-broken" and "has no server" in e["message"]
               for e in local["errors"]), local["errors"]
    [secrets_list] = [r for r in instance.argocd.requests if r.path == SECRETS_PATH]
    assert secrets_list.query.get("labelSelector") == "argocd.argoproj.io/secret-type"
    assert {r.method for r in instance.argocd.requests} == {"GET"}
    assert code == 2, stdout + stderr  # the broken Secret is a run error
    for text in (stdout, stderr, *(p.read_text() for p in out.rglob("*") if p.is_file())):
        assert instance.token not in text


def test_forbidden_secrets_are_one_note_and_the_run_goes_on(instance: Instance, git_repo: GitRepoBuilder,
                                                            tmp_path: Path) -> None:
    instance.argocd.forbid("secrets", namespace="argocd")
    code, stdout, stderr, out = check(instance, git_repo.path, tmp_path)
    note = ("note: cluster and repository Secrets in argocd not read: forbidden; apply "
            "deploy/components/argocd-secrets")
    assert stderr.count(note) == 1, stderr
    local = report(out, "emulator")
    assert {f"{r['app']}/{r['name']}": r["status"] for r in local["resources"]} == {"web/web": "in-sync"}
    assert {(e["app"], e["message"]) for e in local["errors"]} == {  # no Secret names them now
        ("api", "destination: there are no clusters with this name: remote"),
        ("batch", "destination: there are no clusters with this name: exec-cluster")}
    assert not instance.remote.requests
    assert code == 2, stdout + stderr


def test_a_token_the_cluster_rejects_fails_that_cluster_only(instance: Instance, git_repo: GitRepoBuilder,
                                                            tmp_path: Path) -> None:
    instance.remote.users = {"rotated-token": {"username": "someone-else"}}  # the Secret's token is stale
    code, stdout, stderr, out = check(instance, git_repo.path, tmp_path)
    assert (f"cluster remote: the Kubernetes API server {instance.remote.url} rejected the credentials of "
            "context Secret argocd/cluster-remote (401 Unauthorized)") in stderr, stderr
    local = report(out, "emulator")
    assert {f"{r['app']}/{r['name']}": r["status"] for r in local["resources"]} == {"web/web": "in-sync"}
    assert code == 2 and instance.token not in stdout + stderr
