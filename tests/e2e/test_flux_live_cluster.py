"""`check --flux` against an emulator holding a Flux-managed cluster: a substituteFrom ConfigMap read live,
a `kubectl edit` (a changed field and an added one) attributed to kubectl-edit, a stale object listed
in the Kustomization's status.inventory and an orphan not in it, and the Kustomization's status.history
in the app's row: exactly the planted verdicts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from testing import flux_repo
from tests.e2e.test_flux_check import live_copy, rendered

APPS = flux_repo.APPS.replace('      REPLICAS: "2"\n', '      REPLICAS: "2"\n    substituteFrom:\n'
                              '      - kind: ConfigMap\n        name: cluster-vars\n')
SETTINGS = flux_repo.CONFIG_MAPS.replace("  cluster: ${CLUSTER}\n",
                                         "  cluster: ${CLUSTER}\n  region: ${REGION}\n")
flux_repo_owner = "kustomize.toolkit.fluxcd.io/name"
OWNER = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}


def config_map(name: str, namespace: str, data: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    return live_copy({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": name, "namespace": namespace, "labels": labels}, "data": data})


def test_a_flux_cluster_gives_exactly_the_planted_verdicts(git_repo: Any, tmp_path: Path) -> None:
    sha = git_repo.commit({**flux_repo.FILES, "clusters/production/apps.yaml": APPS,
                           "apps/base/podinfo/configmaps.yaml": SETTINGS}, "flux bootstrap",
                          date="2026-03-01T09:00:00+00:00")
    live = [live_copy(o) for o in rendered(git_repo, tmp_path)]  # render reads no cluster: ${REGION} kept
    settings = next(o for o in live if o["metadata"]["name"] == "podinfo-settings")
    assert settings["data"]["region"] == "${REGION}"
    settings["data"]["region"] = "eu-west-1"  # what Flux applied, from the ConfigMap below
    edited = next(o for o in live if o["kind"] == "Deployment")
    edited["spec"]["replicas"] = 5
    edited["metadata"]["annotations"]["debug"] = "on"
    edited["metadata"]["managedFields"].append({
        "manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
        "time": "2026-03-02T08:00:00Z",
        "fieldsV1": {"f:spec": {"f:replicas": {}}, "f:metadata": {"f:annotations": {"f:debug": {}}}}})
    stale = config_map("podinfo-old", "podinfo", {"a": "1"}, OWNER)
    orphan = config_map("podinfo-lost", "podinfo", {"a": "1"}, OWNER)
    apps = next(o for o in live if o["kind"] == "Kustomization" and o["metadata"]["name"] == "apps")
    owned = [o for o in live if o["metadata"].get("labels", {}).get(flux_repo_owner) == "apps"]
    ids = [f"{o['metadata'].get('namespace', '')}_{o['metadata']['name']}_"
           f"{o['apiVersion'].rpartition('/')[0]}_{o['kind']}" for o in [*owned, stale]]
    apps["status"] = {
        "lastAppliedRevision": f"main@sha1:{sha}", "lastAttemptedRevision": f"main@sha1:{sha}",
        "inventory": {"entries": [{"id": i, "v": "v1"} for i in ids]},
        "history": [{"digest": "sha256:abc", "firstReconciled": "2026-03-01T12:05:00Z",
                     "lastReconciled": "2026-03-02T09:00:00Z", "lastReconciledDuration": "2s",
                     "lastReconciledStatus": "ReconciliationSucceeded", "totalReconciliations": 21,
                     "metadata": {"revision": f"main@sha1:{sha}"}}]}
    variables = config_map("cluster-vars", "flux-system", {"REGION": "eu-west-1"}, {})
    planted = [*copy.deepcopy(live), stale, orphan, variables]
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, planted)

    by_name = {(r["kind"], r["name"]): r for r in report["resources"]}
    verdicts = {k: r["status"] for k, r in by_name.items() if r["status"] != "in-sync"}
    assert verdicts == {("Deployment", "podinfo"): "drifted", ("ConfigMap", "podinfo-old"): "extra",
                        ("ConfigMap", "podinfo-lost"): "extra"}, by_name
    assert by_name[("ConfigMap", "podinfo-settings")]["status"] == "in-sync"  # ${REGION} read live
    diffs = {d["path"]: d for d in by_name[("Deployment", "podinfo")]["differences"]}
    assert sorted(diffs) == ["/metadata/annotations/debug", "/spec/replicas"]
    assert {d["changed_by"]["manager"] for d in diffs.values()} == {"kubectl-edit"}
    assert "removes it at its next apply" in diffs["/metadata/annotations/debug"]["note"]
    assert by_name[("ConfigMap", "podinfo-old")]["extra"] == "stale"
    assert "prunes it at its next successful apply" in by_name[("ConfigMap", "podinfo-old")]["reason"]
    assert by_name[("ConfigMap", "podinfo-lost")]["extra"] == "orphan"
    assert "extra" not in by_name[("Deployment", "podinfo")]  # the v1 entry is unchanged elsewhere
    row = next(a for a in report["apps"] if a["name"] == "flux-system/apps")
    assert row["flux"]["last_applied_revision"] == f"main@sha1:{sha}"
    assert row["flux"]["history"][0]["applied"] == "applied 3 h after the commit"
    assert not report["errors"], report["errors"]
    assert code == 1


def test_a_substitute_from_configmap_the_cluster_lacks_fails_the_build_and_is_never_drift(
        git_repo: Any, tmp_path: Path) -> None:
    git_repo.commit({**flux_repo.FILES, "clusters/production/apps.yaml": APPS,
                     "apps/base/podinfo/configmaps.yaml": SETTINGS}, "flux bootstrap")
    live = [live_copy(o) for o in rendered(git_repo, tmp_path)]
    next(o for o in live if o["metadata"]["name"] == "podinfo-settings")["data"]["region"] = "eu-west-1"
    # no cluster-vars on the cluster
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, live)
    settings = next(r for r in report["resources"] if r["name"] == "podinfo-settings")
    assert settings["status"] == "unknown"
    assert "${REGION}" in settings["reason"] and "configmaps \"cluster-vars\" not found" in settings["reason"]
    errors = [e["message"] for e in report["errors"] if e["app"] == "flux-system/apps"]
    assert any("Flux's build of this Kustomization fails" in m for m in errors), report["errors"]
    assert code == 2
