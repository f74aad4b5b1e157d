"""fieldsV1 parsing and attribution: who changed a differing field, as a report says it."""

from __future__ import annotations

from driftcheck.compare.explain import describe
from driftcheck.compare.managedfields import managed_entries, owned_leaves, owner, parse_fields
from driftcheck.model import ChangedBy
from testing.compare_helpers import one

FIELDS = {
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {
        "f:replicas": {},
        "f:template": {"f:spec": {"f:containers": {
            'k:{"name":"web"}': {".": {}, "f:image": {}, "f:ports": {
                'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}}},
        "f:finalizers": {'v:"example.com/cleanup"': {}},
        "f:args": {"i:1": {}},
    },
}
BODY = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {
        "replicas": 5,
        "template": {"spec": {"containers": [
            {"name": "sidecar", "image": "envoy"},
            {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
        ]}},
        "finalizers": ["other", "example.com/cleanup"],
        "args": ["a", "b"],
    },
}


def entry(manager: str, operation: str, fields: dict, time: str = "2026-11-25T13:04:11Z",
          subresource: str = "") -> dict:
    out = {"manager": manager, "operation": operation, "apiVersion": "apps/v1", "time": time,
           "fieldsType": "FieldsV1", "fieldsV1": fields}
    if subresource:
        out["subresource"] = subresource
    return out


def test_keyed_set_and_index_items_resolve_against_the_live_object() -> None:
    root = parse_fields(FIELDS)
    leaves = set(owned_leaves(root, BODY))
    assert ("spec", "template", "spec", "containers", 1, "image") in leaves  # k:{"name":"web"} is item 1
    assert ("spec", "template", "spec", "containers", 1, "ports", 0, "containerPort") in leaves
    assert ("spec", "finalizers", 1) in leaves  # v:"example.com/cleanup"
    assert ("spec", "args", 1) in leaves  # i:1
    assert ("spec", "template", "spec", "containers", 0, "image") not in leaves  # sidecar is not owned
    assert ("metadata", "labels", "app") in leaves


def test_owner_prefers_exact_member_then_latest_time() -> None:
    body = {**BODY, "metadata": {**BODY["metadata"], "managedFields": [
        entry("argocd-controller", "Update", FIELDS, time="2026-11-20T00:00:00Z"),
        entry("kubectl", "Update", {"f:spec": {"f:replicas": {}}}, subresource="scale"),
    ]}}
    entries = managed_entries(body)
    scaled = ChangedBy("kubectl", "Update", "2026-11-25T13:04:11Z", "scale")
    assert owner(entries, body, ("spec", "replicas")) == scaled
    image = ("spec", "template", "spec", "containers", 1, "image")
    assert owner(entries, body, image).manager == "argocd-controller"
    assert owner(entries, body, ("spec", "template", "spec", "containers", 0, "image")) is None


def test_malformed_keys_are_skipped_not_fatal() -> None:
    root = parse_fields({"f:spec": {"k:{not json": {}, "i:x": {}, "f:ok": {}}})
    assert list(owned_leaves(root, {"spec": {"ok": 1}})) == [("spec", "ok")]


def test_scaled_replicas_are_attributed_to_kubectl_scale() -> None:
    desired = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "blog-system"}, "spec": {"replicas": 2}}
    live = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "blog-system", "managedFields": [
                entry("argocd-controller", "Update", {"f:spec": {"f:replicas": {}}}, "2026-11-20T08:00:00Z"),
                entry("kubectl", "Update", {"f:spec": {"f:replicas": {}}}, subresource="scale"),
            ]}, "spec": {"replicas": 5}}
    result = one(desired, live)
    assert result.status == "drifted"
    [diff] = result.diffs
    assert describe(diff) == ("/spec/replicas: 2 → 5  by kubectl (Update, subresource scale) "
                              "at 2026-11-25T13:04:11Z")
