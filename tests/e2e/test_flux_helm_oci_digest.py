"""A HelmRelease whose chartRef is an OCIRepository pinned by `ref.digest` renders the chart of that
manifest (digest over semver, as source-controller chooses), pulled from the loopback registry by
digest; a digest the registry does not have, or a chart layer altered in the registry's storage, is an
error naming the HelmRelease, never a render of something else."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from driftcheck.cli import main
from testing import flux_repo
from testing.oci_registry import Registry, oci_registry, package_chart, push_chart

RELEASE = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: demo
  namespace: flux-system
spec:
  url: {registry}/charts/ocidemo
  ref:
    semver: ">=1.0.0"
    digest: {digest}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: demo
  namespace: flux-system
spec:
  interval: 10m
  chartRef:
    kind: OCIRepository
    name: demo
"""


@pytest.fixture
def registry(tmp_path: Path, require: Callable[[bool, str], None]) -> Iterator[tuple[Registry, str, Path]]:
    """The registry with ocidemo 1.0.0 and 2.0.0; 1.0.0's manifest digest and its chart archive."""
    require(Path("/usr/bin/docker-registry").exists(), "docker-registry (testing/prereqs.sh)")
    import helm_python

    with oci_registry() as reg:
        old = package_chart(tmp_path / "oci", "ocidemo", "1.0.0")
        push_chart(old, f"{reg.url}/charts", reg)
        push_chart(package_chart(tmp_path / "oci", "ocidemo", "2.0.0"), f"{reg.url}/charts", reg)
        with helm_python.RegistryClient(plain_http=True, credentials_file=tmp_path / "auth.json") as client:
            digest = client.resolve(f"{reg.url}/charts/ocidemo:1.0.0")["digest"]
        yield reg, digest, old


def render(git_repo: Any, tmp_path: Path, registry: Registry, digest: str) -> tuple[Any, dict[str, Any]]:
    text = RELEASE.format(registry=registry.url, digest=digest)
    git_repo.commit({**flux_repo.FILES, "infrastructure/releases/releases.yaml": text}, "pinned chart")
    out = tmp_path / "desired"
    result = CliRunner().invoke(main, ["render", "--repo", str(git_repo.path), "--flux",
                                       "clusters/production", "--repo-url", flux_repo.URL, "--out",
                                       str(out), "--cache-dir", str(tmp_path / "cache")])
    docs = [yaml.safe_load(p.read_text()) for p in sorted(out.rglob("*.yaml"))]
    return result, {d["metadata"]["name"]: d for d in docs
                    if isinstance(d, dict) and d.get("kind") == "ConfigMap"}


def test_a_digest_pins_the_chart_over_the_semver_range(git_repo: Any, registry: Any, tmp_path: Path) -> None:
    reg, digest, _ = registry
    result, objects = render(git_repo, tmp_path, reg, digest)
    assert result.exit_code == 0, result.output
    assert objects["ocidemo"]["data"]["version"] == "1.0.0"  # not 2.0.0, the range's highest


def test_an_unknown_digest_is_an_error_naming_the_release(git_repo: Any, registry: Any,
                                                          tmp_path: Path) -> None:
    reg, _, _ = registry
    result, objects = render(git_repo, tmp_path, reg, "sha256:" + "0" * 64)
    assert result.exit_code != 0
    assert "HelmRelease flux-system/demo" in result.output and "no manifest of that digest" in result.output
    assert "ocidemo" not in objects


def test_a_chart_altered_in_the_registry_is_refused(git_repo: Any, registry: Any, tmp_path: Path) -> None:
    reg, digest, archive = registry
    layer = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert reg.root is not None
    blob = next(p for p in reg.root.rglob("data") if p.parent.name == layer)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the digest tells
    blob.write_bytes(bytes(data))
    result, objects = render(git_repo, tmp_path, reg, digest)
    assert result.exit_code != 0
    assert "HelmRelease flux-system/demo" in result.output, result.output
    assert "mismatch" in result.output.lower(), result.output
    assert "ocidemo" not in objects
