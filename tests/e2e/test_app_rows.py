"""The report's per-app rows count every error of the app, including those found after comparing."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from driftcheck.cli import main

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {mode: blue}\n"


def test_an_app_whose_ignore_rule_fails_is_shown_in_error(git_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    git_repo.commit({"apps/web/cm.yaml": CONFIGMAP, "apps/api/cm.yaml": CONFIGMAP.replace("web", "api")},
                    "apps")
    config = tmp_path / "driftcheck.yaml"
    config.write_text(
        "apps:\n"
        "- {name: web, path: apps/web, namespace: shop,\n"
        "   ignoreDifferences: [{kind: ConfigMap,\n"
        "                        jqPathExpressions: ['.data | keys[] | error(\"boom\")']}]}\n"
        "- {name: api, path: apps/api, namespace: shop}\n")
    live = tmp_path / "live.json"
    items = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n, "namespace": "shop"},
              "data": {"mode": "blue"}} for n in ("web", "api")]
    live.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    result = CliRunner().invoke(main, ["check", "--repo", str(git_repo.path), "--config", str(config),
                                       "--live-snapshot", str(live), "--out", str(tmp_path / "out"),
                                       "--format", "json"])
    report = json.loads(next((tmp_path / "out").rglob("report.json")).read_text())
    rows = {a["name"]: a for a in report["apps"]}
    assert rows["web"]["status"] == "error" and rows["web"]["errors"] == 1
    assert rows["api"]["status"] == "in-sync" and rows["api"]["errors"] == 0
    assert any("boom" in e["message"] and e["app"] == "web" for e in report["errors"])
    assert result.exit_code == 2
