"""Well-known cluster-scoped kinds, so desired objects can be keyed before any cluster is asked.

The audit re-keys other kinds (CRDs) once discovery or a snapshot says they are cluster-scoped.
"""

from __future__ import annotations

from typing import Any

from driftcheck.model import ResourceKey, split_api_version

CLUSTER_SCOPED: frozenset[tuple[str, str]] = frozenset({
    ("", "Namespace"), ("", "Node"), ("", "PersistentVolume"), ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("storage.k8s.io", "StorageClass"), ("storage.k8s.io", "CSIDriver"), ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("networking.k8s.io", "IngressClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("policy", "PodSecurityPolicy"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("cert-manager.io", "ClusterIssuer"),
    ("cilium.io", "CiliumClusterwideNetworkPolicy"),
    ("gateway.networking.k8s.io", "GatewayClass"),
    ("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
    ("karpenter.sh", "NodePool"),
})


def key_of(body: dict[str, Any], default_namespace: str) -> ResourceKey:
    """The object's key: its own namespace, else the app's, except for cluster-scoped kinds ("")."""
    group, _ = split_api_version(str(body.get("apiVersion", "")))
    if (group, str(body.get("kind", ""))) in CLUSTER_SCOPED:
        key = ResourceKey.of(body)
        return ResourceKey(key.group, key.kind, "", key.name)
    return ResourceKey.of(body, default_namespace=default_namespace)
