"""A real-world Flux sample: onedr0p/home-ops at a pinned commit, from the root its flux-operator
FluxInstance syncs (`kubernetes/flux/cluster`). Every Kustomization builds offline in strict mode with no
missing variable; the one variable from a Secret the cluster makes (an ExternalSecret's) is reported
unresolved with the reason, never guessed; every HelmRelease is an app error naming its chart and its
registry (the cache is empty). Tests have no network: set DRIFTCHECK_HOME_OPS to a clone (or bare Git
directory) of it; see docs/flux-home-ops.md."""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from driftcheck.audit import desired_state
from driftcheck.commands.options import FetchOptions, SourceOptions

SAMPLE = os.environ.get("DRIFTCHECK_HOME_OPS", "")
PINNED = "d9078e4dd52174ad68a4408ca3398f731b2f889e"  # 2026-08-22
UNRESOLVED = ("network/cloudflare-tunnel", "${CLOUDFLARE_TUNNEL_ID}",
              "from Secret network/cloudflare-tunnel-id-secret not read")


@pytest.mark.skipif(not SAMPLE, reason="DRIFTCHECK_HOME_OPS (a clone of onedr0p/home-ops) is not set; tests "
                                       "do not fetch from the internet")
def test_home_ops_from_its_flux_instance_root(tmp_path: Path) -> None:
    clone = tmp_path / "home-ops"
    subprocess.run(["git", "clone", "-q", SAMPLE, str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", PINNED], check=True)
    state = desired_state(SourceOptions(repo=str(clone), flux="kubernetes/flux/cluster",
                                        fetch=FetchOptions(cache_dir=tmp_path / "cache", offline=True)))
    tools = Counter(r.app.primary.render.tool for r in state.rendered)
    assert tools == {"flux": 79, "flux-helm": 68}
    kustomizations = [r for r in state.rendered if r.app.primary.render.tool == "flux"]
    assert all(not [e for e in r.errors if e.severity == "error"] for r in kustomizations)
    assert sum(len(r.resources) for r in kustomizations) == 519
    built = {(r.key.namespace, r.key.name) for k in kustomizations for r in k.resources
             if r.key.kind == "Kustomization" and r.key.group == "kustomize.toolkit.fluxcd.io"}
    assert len(built) == 78 and {f"{ns}/{n}" for ns, n in built} < {r.app.name for r in kustomizations}

    errors = [e for e in state.errors if e.severity == "error"]
    releases = {r.app.name for r in state.rendered if r.app.primary.render.tool == "flux-helm"}
    assert {e.app for e in errors} == releases and all(n.startswith("helmrelease/") for n in releases)
    assert len(errors) == 68
    chart = re.compile(r"chart \S+ version \S+ from oci://(?P<registry>[^/: ]+)\S*: not in the cache")
    registries = Counter(m["registry"] for e in errors if (m := chart.search(e.message)))
    assert sum(registries.values()) == 68 and registries["ghcr.io"] == 59

    assert not [e for e in state.errors if "missing" in e.message.lower() and "variable" in e.message]
    [warning] = [e for e in state.errors if e.severity == "warning"]
    assert warning.app == UNRESOLVED[0] and all(part in warning.message for part in UNRESOLVED)
    tunnel = {r.key.kind: r.body for r in next(k for k in kustomizations
                                               if k.app.name == UNRESOLVED[0]).resources}
    assert "${CLOUDFLARE_TUNNEL_ID}.cfargotunnel.com" in str(tunnel["DNSEndpoint"])
    left = [r.key for k in kustomizations for r in k.resources
            if "${" in str(r.body) and r.key.kind != "DNSEndpoint"]
    assert {(k.namespace, k.name) for k in left} == {("o11y", "gatus-sidecar-configmap"),
                                                      ("default", "sonarr-configmap")}  # substitute: disabled
