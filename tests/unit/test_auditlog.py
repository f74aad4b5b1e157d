"""Audit logs in every shape read to the same events; the match names the right user or says why not."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from driftcheck.evidence.attribution import (
    Policy,
    attribute,
    identify,
    manager_from_user_agent,
    resource_name,
)
from driftcheck.evidence.auditlog import AuditLog, log_paths, read_audit_logs
from driftcheck.model import ChangedBy, DriftcheckError, FieldDiff, ResourceKey, ResourceResult

KUBECTL = "kubectl/v1.30.13 (linux/amd64) kubernetes/50af91c"


def event(**over: Any) -> dict[str, Any]:
    """A kube-apiserver log-backend Event: alice's kubectl edit of web at 09:14:03.2."""
    base: dict[str, Any] = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": "a-1",
        "stage": "ResponseComplete", "verb": "patch",
        "requestURI": "/apis/apps/v1/namespaces/shop/deployments/web?fieldManager=kubectl-edit",
        "user": {"username": "alice@example.com", "groups": ["devs"]}, "sourceIPs": ["10.0.0.7"],
        "userAgent": KUBECTL,
        "objectRef": {"resource": "deployments", "namespace": "shop", "name": "web", "apiGroup": "apps",
                      "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestObject": {"data": {"password": "c2VjcmV0"}},
        "requestReceivedTimestamp": "2026-11-20T09:14:03.200000Z",
        "stageTimestamp": "2026-11-20T09:14:03.250000Z",
    }
    for key, value in over.items():
        base[key] = value
    return base


def write_lines(path: Path, *events: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


EDIT = ChangedBy("kubectl-edit", "Update", "2026-11-20T09:14:03Z")
WEB = ResourceKey("apps", "Deployment", "shop", "web")


def who(log: AuditLog, changed: ChangedBy = EDIT, policy: Policy | None = None) -> Any:
    return identify(changed, log.events, log, policy or Policy())


def read(path: Path) -> AuditLog:
    return read_audit_logs(log_paths([path]))


def test_a_log_backend_line_becomes_an_event_without_its_bodies(tmp_path: Path) -> None:
    [e] = read(write_lines(tmp_path / "audit.log", event())).events
    assert (e.user, e.groups, e.source_ips, e.field_manager, e.dry_run) == (
        "alice@example.com", ("devs",), ("10.0.0.7",), "kubectl-edit", False)
    assert e.object_key == ("apps", "deployments", "shop", "web") and e.code == 200
    assert e.evidence == f"{tmp_path / 'audit.log'}:1"
    assert "c2VjcmV0" not in repr(e), "request and response bodies are never kept"


def test_a_directory_reads_rotated_and_gzipped_files_with_their_spans(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    old = event(auditID="old", requestReceivedTimestamp="2026-11-19T23:00:00Z")
    with gzip.open(logs / "audit-2026-11-20T00-00-00.000.log.gz", "wt") as out:
        out.write(json.dumps(old) + "\n")
    write_lines(logs / "audit.log", event(), event(verb="get", auditID="read"))
    log = read(logs)
    assert sorted(e.audit_id for e in log.events) == ["a-1", "old"], "reads are counted, not kept"
    assert [(f.events, f.first and f.first.hour) for f in log.files] == [(1, 23), (2, 9)]


@pytest.mark.parametrize("shape", ["eks-filter-log-events", "eks-firehose", "aks-diagnostics", "aks-legacy",
                                   "aks-log-analytics", "event-list", "json-array"])
def test_cloud_exports_read_to_the_same_event(tmp_path: Path, shape: str) -> None:
    e = event()
    documents = {
        "eks-filter-log-events": {"events": [{"logStreamName": "kube-apiserver-audit-1", "eventId": "37",
                                              "message": json.dumps(e)}]},
        "eks-firehose": {"messageType": "DATA_MESSAGE",
                         "logEvents": [{"id": "37", "message": json.dumps(e)}]},
        "aks-diagnostics": {"category": "kube-audit",
                            "properties": {"log": json.dumps(e), "pod": "kube-api"}},
        "aks-legacy": {"Category": "kube-audit", "log_s": json.dumps(e)},
        "aks-log-analytics": [{"AuditId": "a-1", "Stage": "ResponseComplete", "Verb": "patch",
                               "RequestUri": e["requestURI"], "User": json.dumps(e["user"]),
                               "SourceIps": ["10.0.0.7"], "UserAgent": KUBECTL,
                               "ObjectRef": json.dumps(e["objectRef"]), "ResponseStatus": {"code": 200},
                               "RequestReceivedTime": e["requestReceivedTimestamp"],
                               "StageReceivedTime": e["stageTimestamp"]}],
        "event-list": {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [e]},
        "json-array": [e],
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps(documents[shape], indent=2))  # pretty-printed, as aws/az/gcloud print it
    log = read(path)
    assert who(log).user == "alice@example.com" and who(log).status == "attributed"


def test_a_gke_entry_has_no_request_uri_so_the_user_agent_names_the_manager(tmp_path: Path) -> None:
    entry = {"insertId": "x1", "timestamp": "2026-11-20T09:14:03.210Z", "resource": {"type": "k8s_cluster"},
             "protoPayload": {"serviceName": "k8s.io", "methodName": "io.k8s.apps.v1.deployments.scale.patch",
                              "resourceName": "apps/v1/namespaces/shop/deployments/web/scale",
                              "authenticationInfo": {
                                  "principalEmail": "system:serviceaccount:kube-system:hpa"},
                              "requestMetadata": {"callerIp": "10.0.0.9",
                                                  "callerSuppliedUserAgent": "kube-controller-manager/v1.30"},
                              "status": {}}}
    log = read(write_lines(tmp_path / "gke.json", entry))
    [e] = log.events
    assert (e.verb, e.object_key, e.subresource, e.code) == ("patch", ("apps", "deployments", "shop", "web"),
                                                             "scale", 200)
    scaled = ChangedBy("kube-controller-manager", "Update", "2026-11-20T09:14:03Z", "scale")
    assert who(log, scaled).user == "system:serviceaccount:kube-system:hpa"


def test_lines_that_are_not_events_are_counted_with_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text(json.dumps(event()) + "\nnot json at all\n" + json.dumps({"hello": 1}) + "\n")
    [record] = read(path).files
    assert (record.events, record.skipped, record.first_skipped) == (1, 2, "line 2: not JSON")


def test_a_missing_log_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DriftcheckError, match=r"--audit-log .*nope\.log: no such file"):
        log_paths([tmp_path / "nope.log"])


@pytest.mark.parametrize(("over", "why"), [
    ({"requestURI": "/apis/apps/v1/namespaces/shop/deployments/web?fieldManager=kubectl-edit&dryRun=All"},
     "1 dry-run"),
    ({"responseStatus": {"code": 409}}, "1 that failed"),
    ({"stage": "ResponseStarted"}, "1 at stage ResponseStarted"),
    ({"objectRef": {"resource": "deployments", "namespace": "shop", "name": "web", "apiGroup": "apps",
                    "subresource": "status"}}, "1 to another subresource"),
    ({"requestURI": "/apis/apps/v1/namespaces/shop/deployments/web?fieldManager=kubectl-patch"},
     "1 by other managers"),
    ({"requestReceivedTimestamp": "2026-11-20T09:14:06.100000Z", "stageTimestamp": "2026-11-20T09:14:06.2Z"},
     "1 at other times"),
])
def test_an_event_that_did_not_make_the_change_is_ruled_out_and_said_why(tmp_path: Path, over: dict[str, Any],
                                                                          why: str) -> None:
    other = event(auditID="cover", requestReceivedTimestamp="2026-11-20T08:00:00Z", verb="get")
    identity = who(read(write_lines(tmp_path / "audit.log", event(**over), other)))
    assert identity.status == "no-event" and identity.user == ""
    assert identity.reason == f"no audit event made this change: 1 write(s) to the object in the log ({why})"


def test_the_window_allows_the_skew_around_the_request(tmp_path: Path) -> None:
    late = event(requestReceivedTimestamp="2026-11-20T09:14:05.900000Z",
                 stageTimestamp="2026-11-20T09:14:05.95Z")
    earlier = event(auditID="cover", requestReceivedTimestamp="2026-11-20T08:00:00Z", verb="get")
    log = read(write_lines(tmp_path / "audit.log", late, earlier))
    assert who(log).status == "attributed", "5.9 s floors to 5: 2 s of skew reaches 3"
    assert who(log, policy=Policy(skew=1.0)).status == "no-event"


def test_without_field_manager_the_user_agent_prefix_is_the_manager(tmp_path: Path) -> None:
    plain = event(requestURI="/apis/apps/v1/namespaces/shop/deployments/web", userAgent="Helm/3.15.2")
    log = read(write_lines(tmp_path / "audit.log", plain))
    helm = who(log, ChangedBy("Helm", "Update", EDIT.time))
    assert (helm.status, helm.confidence) == ("attributed", "strong")
    assert helm.reason == "manager from the user agent"
    assert manager_from_user_agent("kubectl/v1.30 (linux)") == "kubectl"
    weak = event(requestURI="/apis/apps/v1/namespaces/shop/deployments/web")
    assert who(read(write_lines(tmp_path / "weak.log", weak))).confidence == "weak"  # kubectl-edit ~ kubectl/


def test_two_users_in_one_window_are_ambiguous_and_both_named(tmp_path: Path) -> None:
    bob = event(auditID="b-1", user={"username": "bob@example.com"})
    identity = who(read(write_lines(tmp_path / "audit.log", event(), bob)))
    assert (identity.status, identity.candidates) == ("ambiguous", ("alice@example.com", "bob@example.com"))


def test_impersonation_names_both_and_a_gitops_manager_used_by_a_person_is_a_finding(tmp_path: Path) -> None:
    claimed = event(requestURI="/api/v1/namespaces/shop/configmaps/c?fieldManager=argocd-controller",
                    user={"username": "system:serviceaccount:argocd:argocd-application-controller"},
                    impersonatedUser={"username": "system:serviceaccount:shop:deployer"},
                    objectRef={"resource": "configmaps", "namespace": "shop", "name": "c", "apiGroup": ""})
    person = event(auditID="p",
                   requestURI="/api/v1/namespaces/shop/configmaps/d?fieldManager=argocd-controller",
                   objectRef={"resource": "configmaps", "namespace": "shop", "name": "d"})
    log = read(write_lines(tmp_path / "audit.log", claimed, person))
    claim = ChangedBy("argocd-controller", "Update", EDIT.time)
    results = [ResourceResult(ResourceKey("", "ConfigMap", "shop", name), "shop", "drifted",
                              diffs=[FieldDiff("/data/x", "a", "b", claim)]) for name in "cd"]
    attribute(results, log, Policy())
    by_argo, by_person = (r.diffs[0].changed_by.identity for r in results if r.diffs[0].changed_by)
    assert by_argo is not None and by_person is not None
    assert (by_argo.impersonated_user, by_argo.finding) == ("system:serviceaccount:shop:deployer", "")
    assert (by_person.user, by_person.finding) == ("alice@example.com", "gitops-impersonation")
    assert "claims to be the GitOps tool, but the request was made by alice@example.com" in by_person.reason


def test_a_time_outside_the_log_is_no_data_never_an_unknown_user(tmp_path: Path) -> None:
    log = read(write_lines(tmp_path / "audit.log", event()))
    identity = who(log, ChangedBy("kubectl-edit", "Update", "2026-11-18T10:00:00Z"))
    assert identity.status == "no-data" and identity.user == ""
    assert identity.reason.startswith("the audit log does not cover 2026-11-18T10:00:00Z (1 file(s) from "
                                      "2026-11-20T09:14:03.200000Z")
    assert who(log, ChangedBy("kubectl-edit", "Update", "")).status == "no-data"


@pytest.mark.parametrize(("kind", "plural"), [
    ("Deployment", "deployments"), ("Ingress", "ingresses"), ("NetworkPolicy", "networkpolicies"),
    ("Endpoints", "endpoints"), ("Gateway", "gateways")])
def test_kinds_map_to_resources_as_the_api_server_guesses(kind: str, plural: str) -> None:
    assert resource_name(kind) == plural
