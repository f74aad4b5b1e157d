"""A driftcheck.yaml given with --config supplies repo, revision and historySince when flags are left out."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from driftcheck.cli import main

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "shop/web:%s"}]}
"""


def test_config_keys_are_the_defaults_flags_override(git_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = git_repo.commit({"apps/web/web.yaml": DEPLOYMENT % "v1"}, "v1", date="2026-01-10T10:00:00+09:00")
    git_repo.commit({"apps/web/web.yaml": DEPLOYMENT % "v2"}, "v2", date="2026-01-12T10:00:00+09:00")
    config = tmp_path / "driftcheck.yaml"
    config.write_text(f"repo: {git_repo.path}\nrevision: {first}\nhistorySince: 2026-01-01\n"
                      "apps: [{name: web, path: apps/web, namespace: shop}]\n")
    live = tmp_path / "live.json"
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop"}}
    live.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [other]}))

    def run(*extra: str) -> dict:
        out = tmp_path / f"out{len(extra)}"
        result = CliRunner().invoke(main, ["check", "--config", str(config), "--live-snapshot", str(live),
                                           "--out", str(out), "--format", "json", *extra])
        assert result.exit_code == 1, result.output  # the Deployment is missing live
        return json.loads(next(out.rglob("report.json")).read_text())

    from_config = run()
    assert from_config["source"]["commit"] == first
    assert [e["message"] for e in from_config["history"]] == ["v1"]

    overridden = run("--revision", "main", "--history-since", "2026-01-11")
    assert overridden["source"]["commit"] != first
    assert [e["message"] for e in overridden["history"]] == ["v2"]
