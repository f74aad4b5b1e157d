"""A lone UTF-16 surrogate escape (\\ud800) in a manifest never ends a run with an internal error.

In a `.json` manifest it becomes U+FFFD, as Go's JSON decoder (and so Kubernetes) makes it; before,
the string reached the report's canonical JSON and `check` ended with "internal error:
UnicodeEncodeError". In YAML, go-yaml and libyaml refuse the escape: an error at its file:line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testing import planted

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: demo}\ndata: {k: v}\n"
ODD = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "odd"},\n "data": {"k": "a\\ud800b"}}'


def _check(git_repo: GitRepoBuilder, tmp_path: Path, files: dict[str, str],
           live: str) -> tuple[int, str, dict[str, Any]]:
    git_repo.commit({**files, "app/cm.yaml": CM % "cm"}, "manifests")
    snapshot = tmp_path / "live.yaml"
    snapshot.write_text(live + "---\n" + CM % "cm")
    out = tmp_path / "out"
    proc = planted.run_cli(["check", "--repo", str(git_repo.path), "--path", "app", "-n", "demo",
                            "--live-snapshot", str(snapshot), "--out", str(out), "--format", "json"],
                           tmp_path / "logs")
    assert "internal error" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr, json.loads(next(out.rglob("report.json")).read_text())


def test_a_lone_surrogate_in_a_json_manifest_reads_as_kubernetes_stores_it(git_repo: GitRepoBuilder,
                                                                           tmp_path: Path) -> None:
    live = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: odd, namespace: demo}\ndata: {k: "a\ufffdb"}\n'
    code, _, report = _check(git_repo, tmp_path, {"app/odd.json": ODD}, live)
    assert code == 0 and report["errors"] == []
    assert sorted((r["name"], r["status"]) for r in report["resources"]) == [("cm", "in-sync"),
                                                                             ("odd", "in-sync")]


def test_a_surrogate_escape_in_yaml_is_an_error_at_its_line(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    odd = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: odd}\ndata:\n  k: "a\\ud800b"\n'
    code, _, report = _check(git_repo, tmp_path, {"app/odd.yaml": odd}, "")
    assert code == 2
    assert [(e["file"], e["line"]) for e in report["errors"]] == [("app/odd.yaml", 5)]
    assert [(r["name"], r["status"]) for r in report["resources"]] == [("cm", "in-sync")]
