"""argocd-cm as util/settings/settings.go reads it, and the tracking ids of resource_tracking.go."""

from __future__ import annotations

import pytest

from driftcheck.apps.argocd_settings import parse_argocd_settings
from driftcheck.compare.engine import CompareOptions, self_referenced, tracked_by, with_tracking_label
from driftcheck.model import DriftcheckError, Origin, Resource, ResourceKey

CM = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-cm}
data:
"""


def settings(data: str, file: str = "argocd-cm.yaml"):  # type: ignore[no-untyped-def]
    return parse_argocd_settings(CM + data, file)


def test_split_keys_all_and_groups_with_dots() -> None:
    s = settings("""\
  resource.customizations.ignoreDifferences.all: |
    jsonPointers: [/metadata/annotations/x]
  resource.customizations.ignoreDifferences.cert-manager.io_Certificate: |
    jqPathExpressions: [.spec.duration]
  resource.customizations.ignoreDifferences.ConfigMap: |
    jsonPointers: [/data/a]
""")
    specs = {prefix: spec for prefix, _, spec in s.rule_sources()}
    split = "argocd-cm:resource.customizations.ignoreDifferences"
    assert specs[f"{split}.all"] == {"group": "*", "kind": "*", "jsonPointers": ["/metadata/annotations/x"]}
    assert specs[f"{split}.cert-manager.io_Certificate"] == {
        "group": "cert-manager.io", "kind": "Certificate", "jqPathExpressions": [".spec.duration"]}
    assert specs[f"{split}.ConfigMap"] == {"group": "", "kind": "ConfigMap", "jsonPointers": ["/data/a"]}
    [(_, origin, _)] = [r for r in s.rule_sources() if r[0].endswith(".all")]
    assert origin == "argocd-cm key resource.customizations.ignoreDifferences.all (argocd-cm.yaml:5)"


def test_a_split_key_replaces_the_legacy_block_entry() -> None:
    s = settings("""\
  resource.customizations: |
    apps/Deployment:
      ignoreDifferences: |
        jsonPointers: [/spec/replicas]
    Service:
      ignoreDifferences: |
        jqPathExpressions: ['.spec.ports[]?.nodePort']
  resource.customizations.ignoreDifferences.apps_Deployment: |
    jsonPointers: [/spec/template]
""")
    specs = {prefix: spec for prefix, _, spec in s.rule_sources()}
    assert specs["argocd-cm:resource.customizations.ignoreDifferences.apps_Deployment"]["jsonPointers"] == [
        "/spec/template"]
    assert not any("replicas" in str(spec) for spec in specs.values())
    assert specs["argocd-cm:resource.customizations[Service]"] == {
        "group": "", "kind": "Service", "jqPathExpressions": [".spec.ports[]?.nodePort"]}


def test_managers_only_where_argocd_looks_them_up() -> None:
    s = settings("""\
  resource.customizations.ignoreDifferences.apps_Deployment: |
    managedFieldsManagers: [hpa]
  resource.customizations.ignoreDifferences.all: |
    managedFieldsManagers: [kube-controller-manager]
  resource.customizations.ignoreDifferences.ConfigMap: |
    managedFieldsManagers: [someone]
""")
    specs = {prefix.rsplit(".", 1)[-1]: spec for prefix, _, spec in s.rule_sources()}
    assert specs["apps_Deployment"]["managedFieldsManagers"] == ["hpa"]
    assert specs["all"]["managedFieldsManagers"] == ["kube-controller-manager"]
    assert "ConfigMap" not in specs, "a core kind's key is looked up as /ConfigMap: never found"
    [warning] = [p for p in s.problems if "ConfigMap" in p.message]
    assert warning.severity == "warning" and warning.line == 9


def test_bad_entries_name_file_line_and_key_and_the_rest_applies() -> None:
    s = settings("""\
  resource.customizations.bogus.Foo: x
  resource.customizations.ignoreDifferences.a_b_c: |
    jsonPointers: [/x]
  resource.customizations.ignoreDifferences.Secret: "jsonPointers: [unclosed"
  resource.customizations.ignoreDifferences.Pod: |
    jsonPointers: [/spec/nodeName]
""")
    errors = [str(p) for p in s.problems if p.severity == "error"]
    assert any(e.startswith("argocd-cm.yaml:5: argocd-cm key resource.customizations.bogus.Foo")
               for e in errors)
    assert any("a_b_c" in e and ":6:" in e for e in errors)
    assert any("Secret" in e and "not valid YAML" in e for e in errors)
    assert [p for p, _, _ in s.rule_sources()] == ["argocd-cm:resource.customizations.ignoreDifferences.Pod"]


def test_exclusions_core_defaults_inclusions_and_clusters() -> None:
    s = settings("""\
  resource.exclusions: |
    - apiGroups: [cilium.io]
      kinds: [CiliumIdentity]
  resource.inclusions: |
    - apiGroups: ["*"]
      kinds: [Deployment, ConfigMap]
      clusters: [https://prod.*]
""")
    for group, kind in (("", "Event"), ("events.k8s.io", "Event"), ("metrics.k8s.io", "PodMetrics"),
                        ("coordination.k8s.io", "Lease"), ("cilium.io", "CiliumIdentity")):
        assert s.is_excluded(group, kind, "https://kubernetes.default.svc"), (group, kind)
    assert not s.is_excluded("", "Secret", "https://kubernetes.default.svc"), "no inclusion for this cluster"
    assert not s.is_excluded("apps", "Deployment", "https://prod.example.com")
    assert s.is_excluded("", "Secret", "https://prod.example.com"), "inclusions for a cluster: default deny"


def test_compare_options_and_tracking_settings() -> None:
    s = settings("""\
  resource.compareoptions: |
    ignoreAggregatedRoles: true
    ignoreResourceStatusField: crd
  application.instanceLabelKey: argocd.argoproj.io/instance
  application.resourceTrackingMethod: annotation+label
  installationID: blue
""")
    assert s.compare_settings(False, False) == {
        "tracking_label": "argocd.argoproj.io/instance", "tracking_method": "annotation+label",
        "installation_id": "blue", "compare_status": True, "compare_aggregated_rules": False}
    default = settings("  {}: {}\n".format("x", '""'))
    assert default.tracking_method == "annotation", "unset means annotation since ArgoCD 3.0"
    assert default.compare_settings(False, False)["compare_status"] is False  # status ignored on all
    assert default.compare_settings(False, False)["compare_aggregated_rules"] is True  # ArgoCD's default
    assert settings("  resource.compareoptions: 'ignoreResourceStatusField: off'\n").ignore_status == "none"


def test_a_file_without_argocd_cm_is_refused() -> None:
    with pytest.raises(DriftcheckError, match=r"cm\.yaml: no ConfigMap named argocd-cm"):
        parse_argocd_settings("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n", "cm.yaml")


def meta(**metadata: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}


ANNOTATION = CompareOptions(tracking_method="annotation")


def test_tracking_ids_as_argocd_parses_them() -> None:
    tid = "argocd.argoproj.io/tracking-id"
    assert tracked_by(meta(annotations={tid: "shop:/ConfigMap:shop/a:b"}), "shop", ANNOTATION), "a ':' name"
    assert not tracked_by(meta(annotations={tid: "shop:ConfigMap:shop/a"}), "shop", ANNOTATION)
    assert not tracked_by(meta(labels={"app.kubernetes.io/instance": "shop"}), "shop", ANNOTATION)
    labelled = meta(labels={"app.kubernetes.io/instance": "shop"}, annotations={tid: "other:/ConfigMap:ns/a"})
    assert tracked_by(labelled, "shop", CompareOptions(tracking_method="label"))
    assert tracked_by(labelled, "shop", CompareOptions()), "without argocd-cm: the label or the annotation"
    blue = CompareOptions(tracking_method="annotation", installation_id="blue")
    assert not tracked_by(meta(annotations={tid: "shop:/ConfigMap:ns/a"}), "shop", blue)
    assert tracked_by(meta(annotations={tid: "shop:/ConfigMap:ns/a",
                                        "argocd.argoproj.io/installation-id": "blue"}), "shop", blue)


def live(group: str, kind: str, namespace: str, name: str, tracking: str) -> Resource:
    body = {"metadata": {"name": name, "annotations": {"argocd.argoproj.io/tracking-id": tracking}}}
    return Resource(ResourceKey(group, kind, namespace, name), "v1", body, Origin("cluster"))


def test_self_reference_and_cluster_scoped_ids() -> None:
    role = "rbac.authorization.k8s.io"
    for recorded in ("prod", ""):  # the destination namespace, possibly empty: any matches no namespace
        tracking = f"app:{role}/ClusterRole:{recorded}/admin"
        assert self_referenced(live(role, "ClusterRole", "", "admin", tracking), ANNOTATION)
    assert not self_referenced(live("", "ConfigMap", "team-b", "cm", "app:/ConfigMap:team-a/cm"), ANNOTATION)
    assert self_referenced(live("", "ConfigMap", "team-b", "cm", "app:/ConfigMap:team-a/cm"),
                           CompareOptions(tracking_method="label")), "label tracking cannot tell"


def test_label_modes_write_the_instance_label_on_desired() -> None:
    key = ResourceKey("apps", "Deployment", "ns", "web")
    body = {"metadata": {"name": "web", "labels": {"app.kubernetes.io/instance": "release"}}}
    long = "a" * 62 + "-b"
    out = with_tracking_label(body, key, long, CompareOptions(tracking_method="annotation+label"))
    assert out["metadata"]["labels"]["app.kubernetes.io/instance"] == "a" * 62
    out = with_tracking_label(body, key, long, CompareOptions(tracking_method="label"))
    assert out["metadata"]["labels"]["app.kubernetes.io/instance"] == long, "label mode: not truncated"
    assert with_tracking_label(body, key, "x", ANNOTATION) is body
    crd = ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "x")
    assert with_tracking_label(body, crd, "x", CompareOptions(tracking_method="label")) is body
    assert body["metadata"]["labels"]["app.kubernetes.io/instance"] == "release", "not modified in place"
