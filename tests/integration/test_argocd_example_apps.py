"""A real-world sample: argoproj/argocd-example-apps, whose `apps` Helm chart renders 14 Applications.
driftcheck renders each child it can and names what the others need. Nothing of the repository is kept
here and tests have no network: set DRIFTCHECK_EXAMPLE_APPS to a clone (or bare Git directory) of it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from driftcheck.audit import desired_state
from driftcheck.commands.options import FetchOptions, SourceOptions

SAMPLE = os.environ.get("DRIFTCHECK_EXAMPLE_APPS", "")
PLUGINS = {"example.plugin-kasane": "kasane", "example.plugin-kustomized-helm": "kustomized-helm",
           "example.plugin-nix": "nix"}


@pytest.mark.skipif(not SAMPLE, reason="DRIFTCHECK_EXAMPLE_APPS (a clone of argoproj/argocd-example-apps) "
                                       "is not set; tests do not fetch from the internet")
def test_the_apps_chart_and_its_children(tmp_path: Path) -> None:
    clone = tmp_path / "example-apps"
    subprocess.run(["git", "clone", "-q", SAMPLE, str(clone)], check=True)
    config = tmp_path / "driftcheck.yaml"
    config.write_text("repoURLs: [https://github.com/argoproj/argocd-example-apps]\n"
                      "apps:\n  - {name: apps, path: apps, namespace: argocd}\n")
    state = desired_state(SourceOptions(repo=str(clone), config_file=config,
                                        fetch=FetchOptions(cache_dir=tmp_path / "cache", offline=True)))
    rendered = {r.app.name: r for r in state.rendered}
    root = rendered.pop("apps")
    assert root.renderer == "helm"
    assert len(root.resources) == 14 and {r.key.kind for r in root.resources} == {"Application"}

    skipped = {s.name: s.reason for s in state.discovered.skipped}
    assert {name: plugin in skipped[name] for name, plugin in PLUGINS.items()} == dict.fromkeys(PLUGINS, True)
    assert len(rendered) + len(skipped) == 14
    assert {a.defined_by.parent for a in state.discovered.apps if a.name != "apps"} == {"apps"}

    failed = {e.app: e.message for e in state.errors if e.severity == "error"}
    assert set(failed) == {"example.helm-dependency"}  # its wordpress chart is on a Helm repository
    assert "https://charts.helm.sh/stable" in failed["example.helm-dependency"]
    assert "wordpress" in failed["example.helm-dependency"]
    empty = sorted(name for name, r in rendered.items() if not r.resources)
    assert empty == ["example.helm-dependency"]
    assert {r.renderer for r in rendered.values()} == {"helm", "directory", "kustomize"}
    jsonnet = rendered["example.jsonnet-guestbook-tla"]
    assert {r.key.kind for r in jsonnet.resources} == {"Deployment", "Service"}
