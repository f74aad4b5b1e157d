"""One check over several clusters: one emulator process per cluster, cluster Secrets in Git naming them.

Each app is compared only with its destination (an app moved between clusters follows its destination),
each cluster is read once, an unmapped destination is skipped with the flag to pass, a name that matches
two clusters is the app's error, and every cluster gets its own report in its own archive directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from testing.fleet import Fleet, application, config_maps

REPO_URL = "https://git.example.com/fleet.git"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def write_repo(repo: Path, fleet: Fleet, web_cluster: str) -> None:
    (repo / "apps/web").mkdir(parents=True, exist_ok=True)
    (repo / "apps/api").mkdir(parents=True, exist_ok=True)
    (repo / "argocd").mkdir(exist_ok=True)
    (repo / "apps/web/cm.yaml").write_text(yaml.safe_dump_all(config_maps(["web-config"], "web", "web")))
    (repo / "apps/api/cm.yaml").write_text(yaml.safe_dump_all(config_maps(["api-config"], "api", "api")))
    twins = yaml.safe_dump_all([{"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": f"twin-{i}", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "stringData": {"name": "twin", "server": f"https://twin-{i}.example.com"}} for i in (1, 2)])
    eu = yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "prod-eu", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "stringData": {"name": "prod-eu", "server": "https://prod-eu.example.com:6443"}})
    (repo / "argocd/clusters.yaml").write_text("---\n".join([fleet.cluster_secrets(), twins, eu]))
    (repo / "argocd/apps.yaml").write_text("---\n".join([
        application("web", "apps/web", "web", cluster=web_cluster),
        application("api", "apps/api", "api", server="https://kubernetes.default.svc"),
        application("eu", "apps/api", "api", cluster="prod-eu"),
        application("dup", "apps/api", "api", cluster="twin"),
    ]))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", f"web on {web_cluster}")


def check(repo: Path, fleet: Fleet, out: Path, *flags: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "driftcheck"), "check", "--repo", str(repo),
         "--argocd-apps", "argocd/*.yaml",
         "--repo-url", REPO_URL, "--kubeconfig", str(fleet.kubeconfig), "--out", str(out),
         "--format", "json", "-o", "table", *flags],
        capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def report(out: Path, cluster: str) -> dict[str, Any]:
    [path] = sorted((out / cluster).glob("*/report.json"))[-1:]
    return json.loads(path.read_text())


def verdicts(doc: dict[str, Any]) -> dict[str, str]:
    return {f"{r['app']}/{r['name']}": r["status"] for r in doc["resources"]}


@pytest.fixture
def fleet(tmp_path: Path) -> Any:
    live = {
        # web's ConfigMap is as Git has it on alpha only; beta holds another value
        "alpha": config_maps(["web-config"], "web", "web") + config_maps(["api-config"], "api", "api"),
        "beta": config_maps(["web-config"], "web", "web", value="changed on beta"),
    }
    with Fleet(tmp_path / "fleet", live, current="alpha") as running:
        yield running


def test_each_app_is_compared_with_its_destination_only(fleet: Fleet, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    write_repo(repo, fleet, web_cluster="alpha")
    out = tmp_path / "reports"

    code, stdout, stderr = check(repo, fleet, out, "--cluster", "beta=beta")
    assert code == 2, stderr  # dup's destination is an error
    assert "skipped app eu: destination prod-eu is not mapped to a cluster: pass --cluster prod-eu=CONTEXT" \
        in stdout
    alpha = report(out, "alpha")
    assert verdicts(alpha) == {"web/web-config": "in-sync", "api/api-config": "in-sync"}
    assert next(e for e in alpha["errors"] if e["app"] == "dup")["message"] == (
        "destination: there are 2 clusters with the same name: "
        "[https://twin-1.example.com https://twin-2.example.com]")
    assert not (out / "beta").exists()  # no app is destined for beta: it is not read, nothing is written

    write_repo(repo, fleet, web_cluster="beta")  # web moves to beta, where its ConfigMap differs
    code, stdout, stderr = check(repo, fleet, out, "--cluster", "beta=beta")
    assert code == 2, stderr
    assert verdicts(report(out, "beta")) == {"web/web-config": "drifted"}
    assert verdicts(report(out, "alpha"))["api/api-config"] == "in-sync"
    assert "web/web-config" not in verdicts(report(out, "alpha"))  # alpha is no longer web's destination
    # the current context is named by its cluster Secret
    assert "cluster alpha (alpha):" in stdout and "cluster beta (beta):" in stdout
    fleet.stop()
    lists = {name: [r for r in fleet.requests(name) if r["path"].endswith("/configmaps")] for name in
             ("alpha", "beta")}
    assert len(lists["alpha"]) == 2 + 1  # each namespace once: web's and api's, then api's alone
    assert len(lists["beta"]) == 1  # the second run only: once
    assert {r["method"] for name in ("alpha", "beta") for r in fleet.requests(name)} == {"GET"}


def test_a_cluster_that_cannot_be_read_fails_only_itself(fleet: Fleet, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    write_repo(repo, fleet, web_cluster="beta")
    snapshot = tmp_path / "eu.yaml"
    snapshot.write_text("")  # an empty snapshot: prod-eu is read from it and holds nothing
    out = tmp_path / "reports"
    fleet.stop("beta")  # beta no longer answers
    code, _stdout, stderr = check(repo, fleet, out, "--cluster", "beta=beta", "--cluster-snapshot",
                                  f"prod-eu={snapshot}", "--request-timeout", "2")
    assert code == 2
    assert "cluster beta: not audited:" in stderr
    assert verdicts(report(out, "alpha")) == {"api/api-config": "in-sync"}
    assert verdicts(report(out, "eu")) == {"eu/api-config": "unknown"}  # its archive: the snapshot name
