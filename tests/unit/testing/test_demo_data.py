"""The bundled demo: the repository has the promised dated history, the snapshot looks like a real cluster
and is exactly what its generator makes."""

from __future__ import annotations

import base64
import json
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from driftcheck.demo.repo import materialize_demo_repo
from driftcheck.live.snapshot import read_snapshot
from driftcheck.model import ResourceKey
from testing.demo_scenario import (
    DRIFTED,
    EXTRA,
    HOSTILE_OWNER,
    HOSTILE_RUNBOOK,
    HOTFIX_IMAGE,
    MISSING,
    UNMANAGED,
    demo_live_objects,
    write_demo_snapshot,
)
from testing.make_demo_snapshot import SHIPPED

BOT = "github-actions[bot]"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return materialize_demo_repo(tmp_path_factory.mktemp("demo") / "repo")


@pytest.fixture(scope="module")
def live(demo_repo: Path) -> dict[ResourceKey, dict[str, Any]]:
    return {ResourceKey.of(o): o for o in demo_live_objects(demo_repo)}


def log(repo: Path) -> list[dict[str, str]]:
    out = git(repo, "log", "--reverse", "--format=%H%x1f%an%x1f%cI%x1f%s%x1f%b%x1e")
    fields = ("sha", "author", "date", "subject", "body")
    records = [rec.strip("\n") for rec in out.split("\x1e")]
    return [dict(zip(fields, rec.split("\x1f"), strict=True)) for rec in records if rec]


def test_history_has_human_start_bot_bumps_manual_scale_and_real_revert(demo_repo: Path) -> None:
    commits = log(demo_repo)
    assert commits[0]["author"] != BOT
    bumps = [c for c in commits if c["subject"].startswith("chore: Update WEB image to v")]
    assert len(bumps) >= 3 and all(c["author"] == BOT for c in bumps)
    assert any("scale" in c["subject"] and c["author"] != BOT for c in commits)
    revert = commits[-1]
    assert revert["subject"] == 'Revert "chore: Update WEB image to v13"'
    reverted = revert["body"].strip().removeprefix("This reverts commit ").removesuffix(".")
    assert git(demo_repo, "log", "-1", "--format=%s", reverted).strip() == "chore: Update WEB image to v13"
    assert "shop-web:v12" in git(demo_repo, "show", "HEAD:apps/shop/web/rollout.yaml")


def test_dates_keep_their_offsets_and_are_reproducible(demo_repo: Path, tmp_path: Path) -> None:
    commits = log(demo_repo)
    offsets = {datetime.fromisoformat(c["date"]).utcoffset() for c in commits}
    assert len(offsets) >= 2  # +09:00 and +01:00 committers
    again = materialize_demo_repo(tmp_path / "again")
    assert git(again, "rev-parse", "HEAD") == git(demo_repo, "rev-parse", "HEAD")
    assert git(demo_repo, "status", "--porcelain") == ""


def test_argocd_application_points_at_the_kustomize_app(demo_repo: Path) -> None:
    app = (demo_repo / "argocd" / "demo-app.yaml").read_text()
    assert "path: apps/shop" in app and "namespace: shop" in app and "/spec/subsets/0/labels" in app
    assert (demo_repo / "apps" / "shop" / "kustomization.yaml").exists()


def test_live_objects_carry_server_fields(live: dict[ResourceKey, dict[str, Any]]) -> None:
    for key, obj in live.items():
        meta = obj["metadata"]
        assert {"uid", "resourceVersion", "creationTimestamp", "managedFields"} <= meta.keys(), key
    deploy = live[ResourceKey("apps", "Deployment", "shop", "api")]
    spec = deploy["spec"]
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    container = spec["template"]["spec"]["containers"][0]
    assert container["terminationMessagePolicy"] == "File" and container["ports"][0]["protocol"] == "TCP"
    assert deploy["status"]["replicas"] == spec["replicas"] == 3
    managers = {(m["manager"], m["operation"], m.get("subresource", ""))
                for m in deploy["metadata"]["managedFields"]}
    assert {("argocd-controller", "Apply", ""), ("kube-controller-manager", "Update", "status"),
            ("kube-controller-manager", "Update", "scale"), ("kubectl-set", "Update", "")} <= managers
    service = live[ResourceKey("", "Service", "shop", "api")]["spec"]
    assert service["clusterIP"] == service["clusterIPs"][0] and service["sessionAffinity"] == "None"


def test_rollouts_hash_is_injected_into_the_destination_rule(live: dict[ResourceKey, dict[str, Any]]) -> None:
    rule = live[ResourceKey("networking.istio.io", "DestinationRule", "shop", "web")]
    rollout = live[ResourceKey("argoproj.io", "Rollout", "shop", "web")]
    hashes = {s["name"]: s["labels"]["rollouts-pod-template-hash"] for s in rule["spec"]["subsets"]}
    assert hashes == {"stable": rollout["status"]["stableRS"], "canary": rollout["status"]["stableRS"]}
    replicasets = [o for k, o in live.items() if k.kind == "ReplicaSet"
                   and o["metadata"]["ownerReferences"][0]["uid"] == rollout["metadata"]["uid"]]
    assert [r["metadata"]["labels"]["rollouts-pod-template-hash"] for r in replicasets] == [hashes["stable"]]


def test_planted_drift(live: dict[ResourceKey, dict[str, Any]]) -> None:
    assert MISSING not in live
    assert live[EXTRA]["metadata"]["labels"]["app.kubernetes.io/instance"] == "shop"
    assert "app.kubernetes.io/instance" not in live[UNMANAGED]["metadata"].get("labels", {})
    deploy = live[ResourceKey("apps", "Deployment", "shop", "api")]
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == HOTFIX_IMAGE
    annotations = live[ResourceKey("", "Service", "shop", "web")]["metadata"]["annotations"]
    assert {annotations["shop.example.com/owner"], annotations["shop.example.com/runbook"]} == {
        HOSTILE_OWNER, HOSTILE_RUNBOOK}
    assert set(DRIFTED) <= live.keys()


def test_kubectl_set_image_owns_the_image_field(live: dict[ResourceKey, dict[str, Any]]) -> None:
    entries = live[ResourceKey("apps", "Deployment", "shop", "api")]["metadata"]["managedFields"]
    owners = [e["manager"] for e in entries
              if "f:image" in json.dumps(e["fieldsV1"]) and e.get("subresource") != "status"]
    assert owners == ["kubectl-set"]


def test_secret_matches_git_and_last_applied_is_kept(live: dict[ResourceKey, dict[str, Any]]) -> None:
    secret = live[ResourceKey("", "Secret", "shop", "api-credentials")]
    assert base64.b64decode(secret["data"]["db_password"]).decode() == "demo-Passw0rd-not-real"
    annotations = secret["metadata"]["annotations"]
    applied = json.loads(annotations["kubectl.kubernetes.io/last-applied-configuration"])
    assert applied["stringData"]["db_password"] == "demo-Passw0rd-not-real"


def test_shipped_snapshot_is_what_the_generator_makes(demo_repo: Path, tmp_path: Path) -> None:
    made = write_demo_snapshot(demo_repo, tmp_path / "snapshot.yaml")
    assert made.read_bytes() == SHIPPED.read_bytes(), "run: .venv/bin/python -m testing.make_demo_snapshot"


def test_shipped_snapshot_reads_back_with_its_scope() -> None:
    state = read_snapshot(SHIPPED, kinds={MISSING.group_kind}, namespaces={"shop"})
    assert state.resources == [] and state.unreadable == {}  # PDBs were read: none is "missing", not unknown
