"""Kubernetes facts in one place: API groups, scopes, well-known metadata, name rules, status severity.

Whatever "Kubernetes says so" knowledge the stages share lives here, so that Git-side and cluster-side
code can never disagree on it (they did: two lists of cluster-scoped kinds, three of built-in groups).

The name rules matter for safety, not only correctness: a namespace or name is put into API request
paths, so a value Kubernetes could never hold (`prod/secrets#`, `x/../..`) must be refused before it
gets near a URL. Each validator returns the reason a value is invalid, or None when it is valid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from driftcheck.model import STATUSES

GroupKind = tuple[str, str]

# The groups kube-apiserver serves itself (typed schemas, server-owned status). Named, not matched by a
# `.k8s.io` suffix: Gateway API, VolumeSnapshot and VPA are CRDs in `*.k8s.io` groups.
BUILTIN_GROUPS = frozenset({
    "", "admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io", "apps",
    "authentication.k8s.io", "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io",
    "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io", "extensions",
    "flowcontrol.apiserver.k8s.io", "internal.apiserver.k8s.io", "networking.k8s.io", "node.k8s.io",
    "policy", "rbac.authorization.k8s.io", "resource.k8s.io", "scheduling.k8s.io", "storage.k8s.io",
    "storagemigration.k8s.io",
})
# Read-only metrics APIs that aggregated servers (metrics-server, adapters) add: not CRDs, never in Git.
METRICS_GROUPS = frozenset({"metrics.k8s.io", "custom.metrics.k8s.io", "external.metrics.k8s.io"})

# Cluster-scoped kinds, built-in and of common CRDs: Git objects are keyed before any cluster is asked,
# and kubectl output carries no discovery information.
CLUSTER_SCOPED_KINDS: frozenset[GroupKind] = frozenset({
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

# The built-in kinds a GitOps repository typically holds: `driftcheck snapshot` reads these and every
# kind outside BUILTIN_GROUPS (the CRDs') when no --kinds is given.
SNAPSHOT_BUILTIN_KINDS: frozenset[GroupKind] = frozenset({
    ("", "Namespace"), ("", "ConfigMap"), ("", "Secret"), ("", "Service"), ("", "ServiceAccount"),
    ("", "PersistentVolumeClaim"), ("", "PersistentVolume"), ("", "LimitRange"), ("", "ResourceQuota"),
    ("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
    ("batch", "Job"), ("batch", "CronJob"), ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"), ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "IngressClass"), ("networking.k8s.io", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"), ("storage.k8s.io", "StorageClass"),
    ("scheduling.k8s.io", "PriorityClass"), ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
})


def is_snapshot_kind(group: str, kind: str) -> bool:
    """Whether `driftcheck snapshot` without --kinds reads this kind: a common built-in one or a CRD's."""
    if group in BUILTIN_GROUPS:
        return (group, kind) in SNAPSHOT_BUILTIN_KINDS
    return group not in METRICS_GROUPS


# Well-known metadata the GitOps tools and kubectl write.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
TRACKING_ID = "argocd.argoproj.io/tracking-id"  # ArgoCD's annotation tracking
TRACKING_LABEL = "app.kubernetes.io/instance"  # ArgoCD's default label tracking
INSTALLATION_ID = "argocd.argoproj.io/installation-id"  # argocd-cm installationID, on tracked objects
COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"  # IgnoreExtraneous, ServerSideDiff=...
# Bookkeeping annotations written by tools and controllers, never by people in Git.
BOOKKEEPING_ANNOTATIONS = frozenset({
    LAST_APPLIED, TRACKING_ID,
    "deployment.kubernetes.io/revision",
    "rollout.argoproj.io/revision",
    "rollout.argoproj.io/workload-generation",
    "argocd.argoproj.io/compare-result",
    "meta.helm.sh/release-name",
    "meta.helm.sh/release-namespace",
})

# What a snapshot holds in place of each Secret value (compare reads it as "not compared").
REDACTED = "<redacted by driftcheck>"

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL = re.compile(_LABEL)
_DNS1123_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_DNS1035_LABEL = re.compile("[a-z]([-a-z0-9]*[a-z0-9])?")

# Kinds whose names the API server checks only as a path segment (ClusterRole `system:aggregate-to-view`).
PATH_SEGMENT_NAMED_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
# Kinds whose names are DNS-1035 labels (they become DNS names that must start with a letter).
DNS1035_NAMED_KINDS = frozenset({"Service"})


def _invalid_dns(text: str, pattern: re.Pattern[str], limit: int, rule: str) -> str | None:
    """The one shape of every DNS rule: not empty, at most `limit` characters, matching `pattern`."""
    if not text:
        return "must not be empty"
    if len(text) > limit:
        return f"must be no more than {limit} characters (has {len(text)})"
    if not pattern.fullmatch(text):
        return f"must be a {rule}"
    return None


def invalid_dns1123_label(text: str) -> str | None:
    """Why `text` is not a DNS-1123 label (lower-case alphanumerics and '-', at most 63), else None."""
    return _invalid_dns(text, _DNS1123_LABEL, DNS1123_LABEL_MAX,
                        "DNS-1123 label: lower-case letters, digits and '-', starting and ending with a "
                        "letter or digit")


def invalid_dns1123_subdomain(text: str) -> str | None:
    """Why `text` is not a DNS-1123 subdomain (dot-separated labels, at most 253), else None."""
    return _invalid_dns(text, _DNS1123_SUBDOMAIN, DNS1123_SUBDOMAIN_MAX,
                        "DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and ending "
                        "with a letter or digit")


def invalid_dns1035_label(text: str) -> str | None:
    """Why `text` is not a DNS-1035 label (a DNS-1123 label starting with a letter), else None."""
    return _invalid_dns(text, _DNS1035_LABEL, DNS1123_LABEL_MAX,
                        "DNS-1035 label: lower-case letters, digits and '-', starting with a letter and "
                        "ending with a letter or digit")


def invalid_path_segment(text: str) -> str | None:
    """Why `text` cannot be an API path segment (empty, '.', '..', or holding '/' or '%'), else None."""
    if not text:
        return "must not be empty"
    if text in (".", ".."):
        return f"may not be {text!r}"
    for bad in ("/", "%"):
        if bad in text:
            return f"may not contain {bad!r}"
    return None


def invalid_namespace(text: str) -> str | None:
    """Why `text` cannot be a namespace (the API server requires a DNS-1123 label), else None."""
    return invalid_dns1123_label(text)


def invalid_name(kind: str, text: str) -> str | None:
    """Why `text` cannot be `metadata.name` of a `kind` object, else None.

    Namespace: DNS-1123 label; Service: DNS-1035 label; RBAC roles and bindings: a path segment;
    every other kind (custom resources too, as the apiextensions server validates them): a DNS-1123
    subdomain.
    """
    if kind == "Namespace":
        return invalid_dns1123_label(text)
    if kind in DNS1035_NAMED_KINDS:
        return invalid_dns1035_label(text)
    if kind in PATH_SEGMENT_NAMED_KINDS:
        return invalid_path_segment(text)
    return invalid_dns1123_subdomain(text)


# Resource verdicts, worst news first: what could not be read, then what differs, then what is fine.
VERDICT_SEVERITY = ("unknown", "drifted", "missing", "extra", "in-sync")
# App statuses, worst first: a failure, then the worst verdict, and last the apps that did not run.
SEVERITY = ("error", *VERDICT_SEVERITY, "skipped")


def severity(status: str) -> int:
    """Rank of an app status or verdict, 0 the worst; an unknown word ranks after every known one."""
    return SEVERITY.index(status) if status in SEVERITY else len(SEVERITY)


def app_status(counts: Mapping[str, int], errors: int) -> str:
    """An app's status: error when anything of it failed, else its worst verdict (in-sync with none)."""
    if errors:
        return "error"
    return next((s for s in VERDICT_SEVERITY if counts.get(s)), "in-sync")


@dataclass
class AppTally:
    """One app's verdict counts and errors, from which its status and its place in a listing follow."""

    name: str
    counts: dict[str, int]  # every verdict, in the report's order, 0 when none
    errors: int = 0
    skipped: bool = False

    @property
    def status(self) -> str:
        return "skipped" if self.skipped else app_status(self.counts, self.errors)

    def worst_first(self) -> tuple[int, int, int, int, int, int, str]:
        """Sort key: by status, then more errors, then more of each bad verdict (worst first), then name."""
        u, d, m, x = (-self.counts.get(s, 0) for s in VERDICT_SEVERITY[:-1])
        return severity(self.status), -self.errors, u, d, m, x, self.name


def tally_apps(apps: Iterable[str], verdicts: Iterable[tuple[str, str]], error_apps: Iterable[str],
               skipped: Iterable[str] = ()) -> list[AppTally]:
    """Per app, the named ones first, then any other a verdict names: (app, status) pairs counted, and
    the errors of those apps (an error of no listed app is nobody's row)."""
    tallies: dict[str, AppTally] = {}
    for name in apps:
        tallies.setdefault(name, AppTally(name, dict.fromkeys(STATUSES, 0)))
    for name, status in verdicts:
        counts = tallies.setdefault(name, AppTally(name, dict.fromkeys(STATUSES, 0))).counts
        counts[status] = counts.get(status, 0) + 1
    for name in error_apps:
        if name in tallies:
            tallies[name].errors += 1
    for name in skipped:
        if name in tallies:
            tallies[name].skipped = True
    return list(tallies.values())
