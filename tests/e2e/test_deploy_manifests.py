"""The deploy/ manifests: they render, kubectl accepts them, they match the Kubernetes schema, and they keep
the security promises (read-only RBAC, Secrets opt-in, one run at a time, unprivileged pod)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from driftcheck.apps.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VARIANTS = {"default": DEPLOY, "example-overlay": DEPLOY / "overlays" / "example"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
Docs = list[dict[str, Any]]


def kustomize(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, Docs]:
    return request.param, kustomize(VARIANTS[request.param])


def only(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


class DiscoveryHandler(BaseHTTPRequestHandler):
    """Serves API discovery (no OpenAPI, no objects) for the kinds `resources` lists: all that
    `kubectl apply --dry-run=client` needs to map each manifest to a resource and a scope."""

    resources: ClassVar[dict[str, Docs]] = {}

    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        groups = sorted({gv.split("/")[0] for gv in self.resources if "/" in gv})
        versions = {g: [{"groupVersion": gv, "version": gv.split("/")[1]}
                        for gv in self.resources if gv.startswith(g + "/")] for g in groups}
        if path == "/api":
            body: dict[str, Any] = {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": []}
        elif path == "/apis":
            body = {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": versions[g], "preferredVersion": versions[g][0]} for g in groups]}
        elif path.removeprefix("/api/").removeprefix("/apis/") in self.resources:
            gv = path.removeprefix("/api/").removeprefix("/apis/")
            body = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                    "resources": self.resources[gv]}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def discovery_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A kubeconfig pointing at a loopback discovery server that knows every kind deploy/ renders."""
    resources: ClassVar[dict[str, Docs]] = {}
    for path in VARIANTS.values():
        for doc in kustomize(path):
            kind = doc["kind"]
            plural = kind.lower() + "s" if not kind.endswith("y") else kind.lower()[:-1] + "ies"
            entry = {"name": plural, "singularName": kind.lower(), "kind": kind,
                     "namespaced": kind not in CLUSTER_SCOPED, "verbs": ["get", "list", "create", "patch"]}
            listed = resources.setdefault(doc["apiVersion"], [])
            if entry not in listed:
                listed.append(entry)
    handler = type("Handler", (DiscoveryHandler,), {"resources": resources})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = tmp_path_factory.mktemp("kube") / "config"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "discovery",
        "clusters": [{"name": "discovery", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "contexts": [{"name": "discovery", "context": {"cluster": "discovery", "user": "nobody"}}],
        "users": [{"name": "nobody", "user": {}}]}))
    yield config
    server.shutdown()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_kubectl_client_dry_run_accepts_every_object(variant: str, discovery_kubeconfig: Path) -> None:
    """`kubectl apply -k --dry-run=client` needs API discovery even without a cluster; the loopback
    server gives it that, so kubectl parses, maps and defaults every object as in a real install. The
    server has no OpenAPI, hence --validate=false; the schema is checked by the next test."""
    env = {**os.environ, "KUBECONFIG": str(discovery_kubeconfig)}
    command = ["kubectl", "apply", "-k", str(VARIANTS[variant]), "--dry-run=client", "--validate=false",
               "-o", "json"]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    applied = json.loads(out.stdout)["items"]
    kinds = sorted(item["kind"] for item in applied)
    assert kinds == sorted(d["kind"] for d in kustomize(VARIANTS[variant]))
    assert {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "CronJob",
            "PersistentVolumeClaim", "Secret", "ConfigMap"} <= set(kinds)
    for item in applied:
        if item["kind"] not in CLUSTER_SCOPED:
            assert item["metadata"]["namespace"] == "driftcheck", item["metadata"]


def test_objects_match_the_kubernetes_schema_strictly(rendered: tuple[str, Docs]) -> None:
    """Every object against the Kubernetes 1.32 JSON schema, rejecting unknown fields (a typo such as
    `readOnlyRootFileSystem` would silently do nothing in a cluster)."""
    kv = pytest.importorskip("kubernetes_validate")
    _, docs = rendered
    for doc in docs:
        kv.validate(doc, "1.32.0", strict=True)


def test_cluster_role_grants_only_get_and_list(rendered: tuple[str, Docs]) -> None:
    _, docs = rendered
    role = only(docs, "ClusterRole")
    assert role["rules"], "an empty ClusterRole audits nothing"
    for rule in role["rules"]:
        assert sorted(rule["verbs"]) == ["get", "list"], rule
        assert "nonResourceURLs" not in rule and "resourceNames" not in rule, rule
        assert "*" not in rule["apiGroups"] and "*" not in rule["resources"], rule
        assert not any("/" in r for r in rule["resources"]), f"no subresources (exec, log, ...): {rule}"
    binding = only(docs, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "driftcheck", "namespace": "driftcheck"}]
    assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding")], "no other grants"


def secrets_readable(docs: list[dict[str, Any]]) -> bool:
    return any("" in rule["apiGroups"] and "secrets" in rule["resources"]
               for rule in only(docs, "ClusterRole")["rules"])


def test_secrets_are_readable_only_when_the_overlay_opts_in() -> None:
    assert not secrets_readable(kustomize(DEPLOY))
    assert not secrets_readable(kustomize(DEPLOY / "base"))
    assert secrets_readable(kustomize(VARIANTS["example-overlay"]))


def test_shipped_config_is_one_driftcheck_accepts(rendered: tuple[str, Docs], tmp_path: Path) -> None:
    """The driftcheck.yaml each variant mounts loads without error (unknown keys would end every night)."""
    _, docs = rendered
    config_map = next(d for d in docs if d["kind"] == "ConfigMap" and "driftcheck.yaml" in d.get("data", {}))
    path = tmp_path / "driftcheck.yaml"
    path.write_text(config_map["data"]["driftcheck.yaml"])
    config = load_config(path)
    assert config.gitops_managers
    settings = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(
        "driftcheck-settings"))["data"]
    assert settings["DRIFTCHECK_REPO"].startswith("https://") and "@" not in settings["DRIFTCHECK_REPO"]


def test_cronjob_runs_one_at_a_time_bounded_and_unprivileged(rendered: tuple[str, Docs]) -> None:
    _, docs = rendered
    cron = only(docs, "CronJob")["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    job = cron["jobTemplate"]["spec"]
    assert 0 <= job["backoffLimit"] <= 3
    assert 0 < job["activeDeadlineSeconds"] <= 6 * 3600
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "driftcheck"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    [container] = pod["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add")
    assert not sc.get("privileged")
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    assert container["args"][0] == "check"


def test_cronjob_has_writable_cache_tmp_and_archive(rendered: tuple[str, Docs]) -> None:
    """With a read-only root filesystem, every path driftcheck writes must be a volume."""
    _, docs = rendered
    pod = only(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    args = dict(a.removeprefix("--").split("=", 1) for a in container["args"][1:])

    def volume_for(path: str) -> dict[str, Any]:
        mount_path = max((m for m in mounts if path == m or path.startswith(m.rstrip("/") + "/")), key=len)
        assert not mounts[mount_path].get("readOnly"), f"{path} must be writable"
        return volumes[mounts[mount_path]["name"]]

    assert "emptyDir" in volume_for("/tmp")
    archive = volume_for(args["out"])["persistentVolumeClaim"]["claimName"]
    assert archive in {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert "persistentVolumeClaim" in volume_for(env["XDG_CACHE_HOME"]), "the Git cache outlives a night"
    assert env["HOME"] == "/tmp"
    config_mount = next(m for p, m in mounts.items() if args["config"].startswith(p))
    assert config_mount.get("readOnly") and "configMap" in volumes[config_mount["name"]]


def test_git_credentials_are_example_values_with_strict_ssh(rendered: tuple[str, Docs]) -> None:
    _, docs = rendered
    secret = only(docs, "Secret")
    assert secret["metadata"]["name"] == "driftcheck-git"
    values = secret.get("stringData", {})
    assert "example" in values["token"] and "known_hosts" in values
    pod = only(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e.get("value", "") for e in container["env"]}
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "git-credentials")
    assert env["DRIFTCHECK_SSH_KNOWN_HOSTS"] == f"{mount}/known_hosts"
    assert env["DRIFTCHECK_SSH_KEY"] == f"{mount}/ssh-privatekey"
    args = dict(a.removeprefix("--").split("=", 1) for a in container["args"][1:])
    assert args["git-token-file"] == f"{mount}/token"
    assert not any(e.get("valueFrom", {}).get("secretKeyRef") for e in container["env"]), \
        "credentials come as files, never as environment variables visible in the pod spec"
    volume = next(v for v in pod["volumes"] if v.get("secret"))
    assert volume["secret"]["secretName"] == "driftcheck-git"
    assert volume["secret"]["defaultMode"] & 0o007 == 0, "credential files are not world-readable"


def test_alert_rules_use_the_metrics_driftcheck_exports() -> None:
    """A renamed metric would silence an alert without anyone noticing: every series the rules name is one
    that report/metrics.py produces."""
    from prometheus_client import generate_latest

    from driftcheck.report.metrics import registry_for

    doc = {"apps": [{"name": "web", "status": "drifted"}], "errors": [],
           "generated_at": "2026-01-02T00:00:00Z",
           "resources": [{"app": "web", "status": "drifted", "first_seen": "2026-01-01T00:00:00Z"}],
           "tool": {"version": "0.1.0"}, "source": {"revision": "main", "commit": "abc"}}
    text = generate_latest(registry_for(doc, "prod", 1.0)).decode()
    exported = set(re.findall(r"^(driftcheck_\w+)\{", text, re.MULTILINE))
    rule = yaml.safe_load((DEPLOY / "monitoring" / "prometheusrule.yaml").read_text())
    alerts = rule["spec"]["groups"][0]["rules"]
    used = {name for alert in alerts for name in re.findall(r"driftcheck_\w+", alert["expr"])}
    assert used and used <= exported, used - exported
    labels = {label for alert in alerts for label in re.findall(r"by \(([^)]*)\)", alert["expr"])}
    assert all(set(group.replace(" ", "").split(",")) <= {"cluster", "app"} for group in labels)
    assert {a["alert"] for a in alerts} >= {"DriftcheckNotRun", "DriftcheckDrift", "DriftcheckIncomplete"}


def test_report_browser_reads_the_archive_read_only_and_unprivileged() -> None:
    kv = pytest.importorskip("kubernetes_validate")
    pod = yaml.safe_load((DEPLOY / "tools" / "report-browser.yaml").read_text())
    kv.validate(pod, "1.32.0", strict=True)
    spec = pod["spec"]
    assert pod["metadata"]["namespace"] == "driftcheck" and spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["activeDeadlineSeconds"] > 0
    [container] = spec["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert all(m["readOnly"] for m in container["volumeMounts"])
    claim = spec["volumes"][0]["persistentVolumeClaim"]
    assert claim["readOnly"] is True
    assert claim["claimName"] in {d["metadata"]["name"] for d in kustomize(DEPLOY)
                                  if d["kind"] == "PersistentVolumeClaim"}


def test_the_role_reads_flux_objects_for_inventory_and_history() -> None:
    granted = {(group, resource) for rule in only(kustomize(DEPLOY / "base"), "ClusterRole")["rules"]
               for group in rule["apiGroups"] for resource in rule["resources"]
               if set(rule["verbs"]) == {"get", "list"}}
    assert {("kustomize.toolkit.fluxcd.io", "kustomizations"), ("helm.toolkit.fluxcd.io", "helmreleases"),
            ("source.toolkit.fluxcd.io", "gitrepositories")} <= granted
