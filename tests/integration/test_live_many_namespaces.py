"""ClusterReader over many namespaces: one cluster-wide LIST per type; per namespace when RBAC says so."""

from __future__ import annotations

from pathlib import Path

from driftcheck.live.cluster import NAMESPACE_LISTS_MAX, ClusterReader
from testing.k8s_emulator import DEFAULT_RESOURCES, ApiResource, Fault, KubernetesEmulator, generate_objects

SERVICE = next(r for r in DEFAULT_RESOURCES if r.kind == "Service")
SPACES = [f"team-{i}" for i in range(NAMESPACE_LISTS_MAX + 3)]


class ClusterWideRefused(Fault):
    """403 for the cluster-wide LIST only, as for a user whose RoleBindings grant some namespaces."""

    def matches(self, res: ApiResource, namespace: str | None, has_continue: bool) -> bool:
        return namespace is None and super().matches(res, namespace, has_continue)


def service_lists(api: KubernetesEmulator) -> list[str]:
    return sorted(r.path for r in api.requests if r.path.endswith("/services"))


def test_many_namespaces_are_read_with_one_list_per_type(k8s_api: KubernetesEmulator,
                                                         kubeconfig: Path) -> None:
    k8s_api.add(*generate_objects([SERVICE], 60, [*SPACES, "kube-system"]))
    wanted = set(SPACES[:-1])
    state = ClusterReader(str(kubeconfig)).read({("", "Service")}, wanted)
    assert service_lists(k8s_api) == ["/api/v1/services"]
    assert {r.key.namespace for r in state.resources} == wanted
    assert len(state.resources) == 60 * len(wanted) // (len(SPACES) + 1)
    assert state.unreadable == {}


def test_refused_cluster_wide_list_falls_back_to_each_namespace(k8s_api: KubernetesEmulator,
                                                               kubeconfig: Path) -> None:
    k8s_api.add(*generate_objects([SERVICE], 60, SPACES))
    k8s_api.faults.append(ClusterWideRefused(403, "services", times=None))
    state = ClusterReader(str(kubeconfig)).read({("", "Service")}, set(SPACES))
    per_namespace = [f"/api/v1/namespaces/{n}/services" for n in SPACES]
    assert service_lists(k8s_api) == sorted(["/api/v1/services", *per_namespace])
    assert len(state.resources) == 60 and state.unreadable == {}
