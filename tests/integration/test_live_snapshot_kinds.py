"""`driftcheck snapshot` without --kinds reads every CRD's kinds, those in `*.k8s.io` groups too.

Gateway API, VolumeSnapshot and VPA are CRDs whose groups end in `.k8s.io`; a suffix rule once took
them for built-in groups and left them out of the snapshot silently.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from driftcheck.cli import main
from driftcheck.live.snapshot import read_snapshot
from testing.k8s_emulator import DEFAULT_RESOURCES, ApiResource, KubernetesEmulator

GATEWAY, SNAPSHOT = "gateway.networking.k8s.io", "snapshot.storage.k8s.io"
CRDS_IN_K8S_IO_GROUPS = (
    ApiResource(GATEWAY, ("v1", "v1beta1"), "HTTPRoute", "httproutes"),
    ApiResource(GATEWAY, ("v1", "v1beta1"), "Gateway", "gateways"),
    ApiResource(GATEWAY, ("v1",), "GatewayClass", "gatewayclasses", namespaced=False),
    ApiResource(SNAPSHOT, ("v1",), "VolumeSnapshot", "volumesnapshots"),
    ApiResource(SNAPSHOT, ("v1",), "VolumeSnapshotClass", "volumesnapshotclasses", namespaced=False),
    ApiResource("metrics.k8s.io", ("v1beta1",), "PodMetrics", "pods"),  # aggregated, read-only: not Git's
)
ROUTE = {"apiVersion": f"{GATEWAY}/v1", "kind": "HTTPRoute", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"parentRefs": [{"name": "edge"}],
                  "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}}
VOLUME_SNAPSHOT = {"apiVersion": f"{SNAPSHOT}/v1", "kind": "VolumeSnapshot",
                   "metadata": {"name": "db-nightly", "namespace": "shop"},
                   "spec": {"source": {"persistentVolumeClaimName": "db"}}}
POD_METRICS = {"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
               "metadata": {"name": "web-1", "namespace": "shop"}, "containers": []}


def test_snapshot_without_kinds_captures_gateway_api_and_volume_snapshots(tmp_path: Path) -> None:
    with KubernetesEmulator(resources=(*DEFAULT_RESOURCES, *CRDS_IN_K8S_IO_GROUPS)) as api:
        api.add(ROUTE, VOLUME_SNAPSHOT, POD_METRICS)
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        result = CliRunner().invoke(main, ["snapshot", "--out", str(tmp_path / "s.yaml"),
                                           "--kubeconfig", str(kubeconfig), "-n", "shop"])
    assert result.exit_code == 0, result.stderr
    state = read_snapshot(tmp_path / "s.yaml")
    assert sorted(str(r.key) for r in state.resources) == [
        f"HTTPRoute.{GATEWAY}/shop/web", f"VolumeSnapshot.{SNAPSHOT}/shop/db-nightly"]
    kinds = state.info["scope"]["kinds"]
    assert {(GATEWAY, "Gateway"), (GATEWAY, "GatewayClass"), (SNAPSHOT, "VolumeSnapshotClass"),
            ("autoscaling.k8s.io", "VerticalPodAutoscaler")} <= kinds, "captured even when empty"
    assert ("metrics.k8s.io", "PodMetrics") not in kinds and ("", "Pod") not in kinds
