"""Secret values never leave the comparison: not in results, explain text, nor rule errors."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict

from driftcheck.compare import explain
from testing.compare_helpers import res, run

PLAIN = {"password": "hunter2-Pa55w0rd!", "api-key": "AKIAEXAMPLEKEY123", "same": "unchanged-value-42"}
LIVE = {"password": "changed-by-hand-99", "same": "unchanged-value-42", "token": "controller-token-777"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


DESIRED = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": "db", "namespace": "blog-system"},
           "stringData": {"password": PLAIN["password"], "same": PLAIN["same"]},
           "data": {"api-key": b64(PLAIN["api-key"])}}
APPLIED = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "blog-system"},
           "data": {"password": b64("an-older-password-1"), "old": b64("removed-from-git-secret")}}
LIVE_BODY = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
             "metadata": {"name": "db", "namespace": "blog-system", "annotations": {
                 "kubectl.kubernetes.io/last-applied-configuration": json.dumps(APPLIED)}},
             "data": {**{k: b64(v) for k, v in LIVE.items()}, "old": b64("removed-from-git-secret")}}
SECRETS = [*PLAIN.values(), *LIVE.values(), "an-older-password-1", "removed-from-git-secret"]


def forms(value: str) -> list[str]:
    return [value, b64(value), b64(value).rstrip("=")]


def test_values_and_base64_forms_appear_nowhere() -> None:
    # a jq expression that fails on the value: its error message must not carry the value either
    rules = [{"kind": "Secret", "jqPathExpressions": [".data.password | tostring | tonumber"]}]
    [result], errors, _ = run([DESIRED], [LIVE_BODY], app_rules=rules)
    assert errors, "the jq rule must fail, so that its error message is checked too"
    text = explain(result, res(DESIRED), res(LIVE_BODY, "cluster"))
    dumped = json.dumps([asdict(result), [asdict(e) for e in errors]], default=str) + text
    for secret in SECRETS:
        for form in forms(secret):
            assert form not in dumped, secret


def test_per_key_markers_say_changed_added_removed_and_unchanged() -> None:
    [result], _, _ = run([DESIRED], [LIVE_BODY])
    assert result.status == "drifted"
    by_path = {d.path: (d.desired, d.live) for d in result.diffs}
    assert [d.note for d in result.diffs if d.path == "/data/password"] == [
        "secret value differs from Git (values are never shown)"]
    assert by_path == {
        "/data/password": ("<secret>", "<secret: changed>"),  # stringData compared with base64 data
        "/data/api-key": ("<secret>", None),  # in Git, not live
        "/data/old": (None, "<secret: not in Git>"),  # removed from Git, in last-applied
    }
    text = explain(result, res(DESIRED), res(LIVE_BODY, "cluster"))
    assert "same: '<secret: unchanged>'" in text
    assert "token" in text  # a key only the controller set is shown but is not drift


def test_equal_values_in_data_and_stringdata_are_in_sync() -> None:
    live = {**LIVE_BODY, "data": {k: b64(v) for k, v in PLAIN.items()}}
    live["metadata"] = {"name": "db", "namespace": "blog-system"}
    [result], _, _ = run([DESIRED], [live])
    assert result.status == "in-sync"


def test_snapshot_redacted_values_are_not_reported_as_changed() -> None:
    live = {**LIVE_BODY, "data": dict.fromkeys(PLAIN, "<redacted by driftcheck>")}
    live["metadata"] = {"name": "db", "namespace": "blog-system"}
    [result], _, _ = run([DESIRED], [live])
    assert result.status == "in-sync"
    assert result.reason == "values of api-key, password, same not compared: redacted in snapshot"


def test_sealed_secret_ciphertext_is_compared_but_never_shown() -> None:
    cipher_git, cipher_live = "AgBfdIy4fWpMi+rou4oP70naoiRQ" * 8, "AgASv1J4mu7bREAkF6wmn3NwmZaD" * 8
    desired = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
               "metadata": {"name": "s", "namespace": "blog-system"},
               "spec": {"encryptedData": {"k": cipher_git}, "template": {"metadata": {"name": "s"}}}}
    live = {**desired, "spec": {**desired["spec"], "encryptedData": {"k": cipher_live}}}
    [result], _, _ = run([desired], [live])
    assert [d.path for d in result.diffs] == ["/spec/encryptedData/k"]
    dumped = json.dumps(asdict(result), default=str) + explain(result, res(desired), res(live, "cluster"))
    assert cipher_git[:28] not in dumped and cipher_live[:28] not in dumped
