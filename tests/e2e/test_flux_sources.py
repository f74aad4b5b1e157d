"""`render --flux` over the sources Flux builds from: strict substitution by default, a flux-operator
FluxInstance as the root, a GitRepository's `include`, `ignore` and `.sourceignore`, another repository
served by `git daemon` at a semver tag, an OCIRepository from the loopback registry; bad input: a source
kind driftcheck cannot build, an unreachable registry (the rest of the run completes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from driftcheck.cli import main
from testing import flux_repo


def render(git_repo: Any, tmp_path: Path, *extra: str, flux: str = "clusters/production") -> \
        tuple[int, str, dict[tuple[str, str], dict[str, Any]]]:
    out = tmp_path / "desired"
    result = CliRunner().invoke(main, ["render", "--repo", str(git_repo.path), "--flux", flux,
                                       "--repo-url", flux_repo.URL, "--out", str(out), *extra])
    objects = {(o["kind"], o["metadata"]["name"]): o
               for p in sorted(out.rglob("*.yaml")) if (o := yaml.safe_load(p.read_text()))}
    return result.exit_code, result.output, objects


UNSET = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unset\ndata:\n  region: \"${REGION}\"\n"


def test_substitution_is_strict_by_default(git_repo: Any, tmp_path: Path) -> None:
    files = {**flux_repo.FILES, "apps/production/unset.yaml": UNSET,
             "apps/production/kustomization.yaml": "resources:\n- ../base/podinfo\n- unset.yaml\n"}
    git_repo.commit(files, "a variable no one sets")
    code, output, objects = render(git_repo, tmp_path)
    assert code == 2
    assert 'variable not set (strict mode): "REGION"' in output
    assert ("Deployment", "podinfo") not in objects  # the whole Kustomization fails, as in Flux
    assert ("Namespace", "podinfo") in objects  # the others are built
    code, output, objects = render(git_repo, tmp_path / "relaxed", "--no-flux-strict-substitution")
    assert code == 0, output
    # the object is written as go-yaml v2 writes it (`region: ${REGION}`, unquoted), so the empty value
    # reads back as null, as in Flux with the gate off
    assert objects[("ConfigMap", "unset")]["data"] == {"region": None}
