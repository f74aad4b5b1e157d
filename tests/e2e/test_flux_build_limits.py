"""How a Flux Kustomization's build is bounded and shaped: `--render-timeout` reaches the builds `--flux`
makes while finding its apps (a stuck one is an app error naming it, the other Kustomizations are
checked), and `spec.ignoreMissingComponents` drops a component path the source does not hold, as
fluxcd/pkg's generator does (without it the build fails, naming the Kustomization)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from driftcheck.cli import main
from testing import flux_repo

# kustomize on PATH that hangs on the apps Kustomization's path and builds the others with kubectl
STUCK_ON_APPS = """#!/bin/sh
case "$*" in *apps/production*) exec sleep 300;; esac
shift
exec kubectl kustomize "$@"
"""


@pytest.fixture
def stuck_kustomize(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kustomize").write_text(STUCK_ON_APPS)
    (bin_dir / "kustomize").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path('/usr/bin')}:{Path('/bin')}")


def test_check_stops_a_stuck_kustomization_at_the_render_timeout(git_repo: Any, tmp_path: Path,
                                                                 stuck_kustomize: None) -> None:
    git_repo.commit(flux_repo.FILES, "flux bootstrap")
    started = time.monotonic()
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, [], "--render-timeout", "2")
    assert time.monotonic() - started < 60  # not the 120 s default, nor 300 s
    [error] = [e for e in report["errors"] if "did not finish" in e["message"]]
    assert error["app"] == "flux-system/apps" and "did not finish within 2 s" in error["message"]
    missing = {r["name"] for r in report["resources"] if r["status"] == "missing"}
    assert {"podinfo", "pods"} <= missing  # infrastructure's namespace and quota were built and checked
    assert "podinfo-settings" not in missing
    assert code == 2


def test_render_takes_the_render_timeout_for_flux_builds(git_repo: Any, tmp_path: Path,
                                                         stuck_kustomize: None) -> None:
    git_repo.commit(flux_repo.FILES, "flux bootstrap")
    out = tmp_path / "desired"
    result = CliRunner().invoke(main, ["render", "--repo", str(git_repo.path), "--flux",
                                       "clusters/production", "--repo-url", flux_repo.URL, "--out", str(out),
                                       "--render-timeout", "2"])
    assert result.exit_code == 2, result.output
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert [(e["app"], "did not finish within 2 s" in e["message"]) for e in manifest["errors"]] == [
        ("flux-system/apps", True)]
    assert {o["name"] for o in manifest["objects"]} >= {"pods", "infrastructure"}


def test_ignore_missing_components_drops_an_absent_component(git_repo: Any, tmp_path: Path) -> None:
    apps = flux_repo.APPS.replace("    - ../../components/monitoring\n",
                                  "    - ../../components/monitoring\n    - ../../components/absent\n")
    out = tmp_path / "desired"
    args = ["render", "--repo", str(git_repo.path), "--flux", "clusters/production", "--repo-url",
            flux_repo.URL, "--out", str(out)]
    git_repo.commit({**flux_repo.FILES, "clusters/production/apps.yaml": apps}, "absent component")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    errors = json.loads((out / "MANIFEST.json").read_text())["errors"]
    assert [e["app"] for e in errors] == ["flux-system/apps"] and "absent" in errors[0]["message"]
    git_repo.commit({"clusters/production/apps.yaml": apps.replace(
        "  components:\n", "  ignoreMissingComponents: true\n  components:\n")}, "ignore it")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    deployment = next(o for o in json.loads((out / "MANIFEST.json").read_text())["objects"]
                      if o["kind"] == "Deployment")
    assert deployment["name"] == "podinfo"
    body = (out / "podinfo" / "Deployment.podinfo.yaml").read_text()
    assert "example.com/monitored" in body  # the component that exists still applies
