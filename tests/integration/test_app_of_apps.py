"""`check` over an app-of-apps three levels deep whose leaf declares the root again: every level is
rendered and compared, the cycle is one error naming both apps and the file, and the child Application
objects are compared as their parent's resources after ArgoCD's normalization — the controller's own
rewrite (project, zero blocks, status, operation) is not drift, a child edited live is."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from click.testing import CliRunner

from driftcheck.cli import main

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

URL = "https://git.example.com/org/gitops.git"


def application(name: str, path: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": "argocd",
                         "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
            "spec": {"source": {"repoURL": URL, "path": path, "targetRevision": "HEAD"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "argocd"},
                     **spec}}


def config_map(name: str, value: str = "v") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "argocd"},
            "data": {"k": value}}


# in Git: zero blocks and an empty project, as people write them
MID = application("mid", "apps/mid", syncPolicy={})
MID["spec"]["source"]["helm"] = {}
LEAF = application("leaf", "apps/leaf", project="default",
                   syncPolicy={"automated": {"prune": True, "selfHeal": True}})
LEAF["spec"]["source"]["directory"] = {"recurse": False, "include": "*.yaml"}
ROOT = application("root", "apps/root", project="default")


def persisted(body: dict[str, Any], parent: str) -> dict[str, Any]:
    """The Application as the cluster holds it after ArgoCD applied and normalized it."""
    live = copy.deepcopy(body)
    spec = live["spec"]
    spec["project"] = spec.get("project") or "default"
    if not (spec.get("syncPolicy") or {}).get("automated"):
        spec.pop("syncPolicy", None)
    spec["source"].pop("helm", None)
    if "directory" in spec["source"]:
        spec["source"]["directory"] = {"include": "*.yaml"}
    live["metadata"].update(uid="1", resourceVersion="7", labels={"app.kubernetes.io/instance": parent},
                            annotations={"argocd.argoproj.io/refresh": "normal"})
    live["status"] = {"sync": {"status": "Synced", "revision": "abc"}, "health": {"status": "Healthy"}}
    live["operation"] = {"sync": {"revision": "abc"}, "initiatedBy": {"automated": True}}
    return live


def write_repo(repo: GitRepoBuilder) -> None:
    dump = yaml.safe_dump
    repo.commit({
        "roots/root.yaml": dump(ROOT),
        "roots/other.yaml": dump(application("other", "apps/other", project="default")),
        "apps/other/cm.yaml": dump(config_map("other")),
        "apps/root/mid.yaml": dump(MID),
        "apps/mid/leaf.yaml": dump(LEAF),
        "apps/leaf/cm.yaml": dump(config_map("leaf")),
        "apps/leaf/back.yaml": dump(ROOT),  # the leaf declares the root: a cycle
    }, "app of apps")


def check(repo: GitRepoBuilder, tmp_path: Path, live: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    snapshot = tmp_path / "live.json"
    snapshot.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": live}))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["check", "--repo", str(repo.path), "--argocd-apps", "roots/*.yaml",
                                       "--repo-url", URL, "--live-snapshot", str(snapshot),
                                       "--out", str(out), "--format", "json"])
    report = json.loads(sorted(out.rglob("report.json"))[-1].read_text())
    return result.exit_code, report


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {f"{r['app']}/{r['kind']}/{r['name']}": r["status"] for r in report["resources"]}


def live_state() -> list[dict[str, Any]]:
    return [persisted(ROOT, "leaf"), persisted(MID, "root"), persisted(LEAF, "mid"),
            config_map("leaf"), config_map("other")]


def test_three_levels_compared_and_the_cycle_named(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    write_repo(git_repo)
    code, report = check(git_repo, tmp_path, live_state())
    assert statuses(report) == {
        "root/Application/mid": "in-sync",  # helm: {} and syncPolicy: {} are what the controller drops
        "mid/Application/leaf": "in-sync",  # a zero directory block keeps only its include
        "leaf/Application/root": "in-sync",
        "leaf/ConfigMap/leaf": "in-sync",
        "other/ConfigMap/other": "in-sync",
    }
    rows = {a["name"]: a for a in report["apps"]}
    assert sorted(rows) == ["leaf", "mid", "other", "root"]
    assert (rows["mid"]["origin"], rows["leaf"]["origin"]) == ("apps/root/mid.yaml:1", "apps/mid/leaf.yaml:1")
    [cycle] = [e for e in report["errors"] if "cycle" in e["message"]]
    assert (cycle["app"], cycle["file"]) == ("leaf", "apps/leaf/back.yaml")
    assert "root → mid → leaf → root" in cycle["message"]
    assert rows["other"]["status"] == "in-sync" and rows["leaf"]["status"] == "error"
    assert code == 2  # the cycle is an error; everything else was still checked


def test_a_child_application_edited_live_is_its_parents_drift(git_repo: GitRepoBuilder,
                                                               tmp_path: Path) -> None:
    write_repo(git_repo)
    live = live_state()
    live[2]["spec"]["source"]["targetRevision"] = "hotfix"  # someone pointed leaf elsewhere in the UI
    live[2]["spec"]["syncPolicy"]["automated"]["selfHeal"] = False  # and stopped it from healing
    live[1]["spec"]["syncPolicy"] = {"automated": {}}  # a field Git never set: not drift, as in ArgoCD's diff
    _, report = check(git_repo, tmp_path, live)
    found = statuses(report)
    assert found["mid/Application/leaf"] == "drifted"
    assert found["root/Application/mid"] == "in-sync"
    assert found["leaf/ConfigMap/leaf"] == "in-sync"
    [leaf] = [r for r in report["resources"] if r["status"] == "drifted"]
    assert sorted(d["path"] for d in leaf["differences"]) == ["/spec/source/targetRevision",
                                                        "/spec/syncPolicy/automated/selfHeal"]
