"""A HelmRelease's history: a chart version bump in its file is a deploy event of the release's app
("chart web 1.0.0 → 1.2.0", in `history --flux` and in `check`), and the live HelmRelease's
status.history and lastAttemptedRevision fill the app's row on the emulator ("chart 1.0.0 → 1.2.0",
deployed when)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from driftcheck.cli import main
from testing import flux_repo
from tests.e2e.test_flux_helmrelease import (  # noqa: F401  (servers: the fixture)
    RELEASES,
    cli,
    live_copy,
    rendered,
    servers,
    write_repo,
)

APP = "helmrelease/flux-system/web"
PINNED = RELEASES.replace('version: "^1.0"', 'version: "1.0.0"')
BUMPED = RELEASES.replace('version: "^1.0"', 'version: "1.2.0"')
STATUS = {
    "lastAttemptedRevision": "1.2.0",
    "history": [
        {"name": "podinfo-web", "namespace": "podinfo", "version": 2, "status": "deployed",
         "chartName": "web", "chartVersion": "1.2.0", "appVersion": "", "digest": "sha256:b",
         "configDigest": "sha256:c1", "firstDeployed": "2026-03-02T10:00:00Z",
         "lastDeployed": "2026-03-02T10:00:00Z"},
        {"name": "podinfo-web", "namespace": "podinfo", "version": 1, "status": "superseded",
         "chartName": "web", "chartVersion": "1.0.0", "appVersion": "", "digest": "sha256:a",
         "configDigest": "sha256:c1", "firstDeployed": "2026-03-01T10:00:00Z",
         "lastDeployed": "2026-03-01T10:00:00Z"},
    ],
}


def bump(git_repo: Any, servers: Any) -> None:  # noqa: F811
    write_repo(git_repo, servers, PINNED)
    write_repo(git_repo, servers, BUMPED)  # the second commit touches only the HelmRelease file


def test_a_chart_version_bump_is_a_deploy_event(git_repo: Any, servers: Any,  # noqa: F811
                                                tmp_path: Path) -> None:
    bump(git_repo, servers)
    result = CliRunner().invoke(main, ["history", "--repo", str(git_repo.path), "--flux",
                                       "clusters/production", "--repo-url", flux_repo.URL, "--app", APP,
                                       "--cache-dir", str(tmp_path / "cache"), "-o", "json"])
    assert result.exit_code == 0, result.output
    apps = json.loads(result.output[result.output.index("{"):])["apps"]
    events = next(a["events"] for a in apps if a["app"] == APP)
    bumps = [s for e in events for s in e["sources"] if s["field"] == "spec.chart.spec.version"]
    assert [(s["from"], s["to"]) for s in bumps] == [("1.0.0", "1.2.0"), ("*", "1.0.0")], events


def test_the_live_status_history_is_in_the_app_row(git_repo: Any, servers: Any,  # noqa: F811
                                                   tmp_path: Path) -> None:
    bump(git_repo, servers)
    helm = {"helm.toolkit.fluxcd.io/name"}
    live = [live_copy(o, "helm-controller" if helm & set(o["metadata"].get("labels") or {})
                      else "kustomize-controller") for o in rendered(git_repo, tmp_path).values()]
    release = next(o for o in live if o["kind"] == "HelmRelease" and o["metadata"]["name"] == "web")
    release["status"] = STATUS
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, live)
    row = next(a for a in report["apps"] if a["name"] == APP)
    flux = row["flux"]
    assert flux["helmrelease"] == "flux-system/web" and flux["last_attempted_revision"] == "1.2.0"
    assert [(h["chart_version"], h["status"], h["change"], h["deployed"]) for h in flux["history"]] == [
        ("1.2.0", "deployed", "chart 1.0.0 → 1.2.0", "deployed 2026-03-02T10:00:00Z"),
        ("1.0.0", "superseded", "first release", "deployed 2026-03-01T10:00:00Z")]
    bumps = [s for e in report["history"] if e["app"] == APP for s in e["sources"]
             if s["field"] == "spec.chart.spec.version"]
    assert ("1.0.0", "1.2.0") in [(s["from"], s["to"]) for s in bumps]
    assert code == 0, report["errors"]
