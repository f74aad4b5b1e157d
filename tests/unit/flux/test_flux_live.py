"""What a Flux audit takes from the cluster: substituteFrom variables, inventory (stale/orphan), the
field managers kustomize-controller takes over, and the Kustomization's own reconcile history."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from driftcheck.compare.managedfields import managed_entries
from driftcheck.flux.inventory import classify_extra, object_id
from driftcheck.flux.managers import flux_owned
from driftcheck.flux.postbuild import PostBuildError, post_build
from driftcheck.flux.status_history import kustomization_status
from driftcheck.flux.unresolved import narrowed, unresolved_names, unresolved_reason
from driftcheck.flux.variables import ClusterVariables
from driftcheck.model import (
    FieldDiff,
    FluxBuildOptions,
    LiveState,
    Origin,
    Resource,
    ResourceKey,
    ResourceResult,
)


def _obj(kind: str, name: str, data: dict[str, str]) -> Resource:
    body = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "flux-system"},
            "data": data}
    return Resource(ResourceKey.of(body), "v1", body, Origin("live"))


def _reader(objects: list[Resource], forbidden: set[str] = frozenset()) -> Any:  # type: ignore[assignment]
    calls: list[tuple[str, str]] = []

    def read(kind: tuple[str, str], namespace: str) -> LiveState:
        calls.append((kind[1], namespace))
        state = LiveState()
        if kind[1] in forbidden:
            state.unreadable[("", kind[1], namespace)] = "forbidden: secrets is forbidden"
        else:
            state.resources = [r for r in objects if r.key.kind == kind[1]]
        return state

    read.calls = calls  # type: ignore[attr-defined]
    return read


def test_substitute_from_in_order_then_inline_wins_newlines_dropped_secret_decoded() -> None:
    secret = base64.b64encode(b"s3cr\net").decode()
    read = _reader([_obj("ConfigMap", "vars", {"A": "cm", "B": "one\ntwo"}),
                    _obj("Secret", "creds", {"A": secret, "C": secret})])
    variables = ClusterVariables(read, "test")
    loaded = variables.load("flux-system", (("ConfigMap", "vars", False), ("Secret", "creds", False),
                                            ("ConfigMap", "absent", True)))
    assert dict(loaded.values) == {"A": "s3cret", "B": "onetwo", "C": "s3cret"}  # later source wins
    assert not loaded.unreadable and not loaded.failed
    assert "s3cret" not in repr(loaded)  # values never shown
    variables.load("flux-system", (("ConfigMap", "vars", False),))
    assert read.calls == [("ConfigMap", "flux-system"), ("Secret", "flux-system")]  # one LIST each per run
    options = FluxBuildOptions("apps", "flux-system", post_build=True, substitute={"A": "inline"},
                               substitute_from=(("ConfigMap", "vars", False),), substituted_from=loaded)
    body = {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "${A}", "b": "${B}", "c": "${C}"}}
    assert post_build(body, options).body["data"] == {"a": "inline", "b": "onetwo", "c": "s3cret"}


def test_a_missing_required_object_fails_as_flux_does_and_an_empty_one_gives_no_substitution() -> None:
    variables = ClusterVariables(_reader([_obj("ConfigMap", "empty", {})]), "test")
    loaded = variables.load("flux-system", (("ConfigMap", "gone", False),))
    assert loaded.failed.startswith("substitute from 'ConfigMap/gone' error: configmaps \"gone\" not found")
    empty = variables.load("flux-system", (("ConfigMap", "empty", False),))
    options = FluxBuildOptions("apps", "flux-system", post_build=True,
                               substitute_from=(("ConfigMap", "empty", False),), substituted_from=empty,
                               strict=True)
    body = {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "${X:=d}"}}
    assert post_build(body, options).body["data"] == {"a": "${X:=d}"}  # no variables: Flux leaves it
    read = variables.load("flux-system", (("ConfigMap", "empty", False),))
    with pytest.raises(PostBuildError, match="X"):  # all sources read, X unset: strict fails as in Flux
        post_build({"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "${X}"}},
                   FluxBuildOptions("a", "flux-system", post_build=True, substitute={"Y": "1"},
                                    substitute_from=(("ConfigMap", "empty", False),), substituted_from=read,
                                    strict=True))


def test_a_forbidden_secret_leaves_its_variables_unresolved_and_their_fields_uncompared() -> None:
    read = _reader([_obj("ConfigMap", "vars", {"A": "1"})], forbidden={"Secret"})
    variables = ClusterVariables(read, "test")
    loaded = variables.load("flux-system", (("ConfigMap", "vars", False), ("Secret", "creds", False)))
    assert loaded.unreadable == (("Secret flux-system/creds",
                                  "forbidden (reading Secrets needs the opt-in RBAC component "
                                  "deploy/components/read-secrets)"),)
    options = FluxBuildOptions("apps", "flux-system", post_build=True,
                               substitute_from=(("ConfigMap", "vars", False), ("Secret", "creds", False)),
                               substituted_from=loaded, strict=True)
    body = post_build({"kind": "ConfigMap", "metadata": {"name": "x"},
                       "data": {"a": "${A}", "token": "${TOKEN}"}}, options).body
    assert body["data"] == {"a": 1, "token": "${TOKEN}"}  # kept, never guessed, no strict error
    names = unresolved_names(options, body)
    assert names == ["TOKEN"]
    reason = unresolved_reason(options, names)
    assert reason.startswith("variable ${TOKEN} from Secret flux-system/creds not readable (forbidden")
    key = ResourceKey("", "ConfigMap", "flux-system", "x")
    only = ResourceResult(key, "apps", "drifted", diffs=[FieldDiff("/data/token", "${TOKEN}", "abc")])
    assert (narrowed(only, names, reason).status, narrowed(only, names, reason).diffs) == ("unknown", [])
    both = ResourceResult(key, "apps", "drifted", diffs=[FieldDiff("/data/token", "${TOKEN}", "abc"),
                                                         FieldDiff("/data/a", "1", "2")])
    kept = narrowed(both, names, reason)
    assert kept.status == "drifted" and [d.path for d in kept.diffs] == ["/data/a"]


def test_extra_objects_are_stale_or_orphan_by_the_live_inventory() -> None:
    stale = ResourceKey("", "ConfigMap", "podinfo", "old")
    role = ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "system:reader")
    assert object_id(stale) == "podinfo_old__ConfigMap"
    assert object_id(role) == "_system__reader_rbac.authorization.k8s.io_ClusterRole"
    kustomization = {"spec": {"prune": True},
                     "status": {"inventory": {"entries": [{"id": object_id(stale), "v": "v1"}]}}}
    assert classify_extra(stale, {}, "flux-system/apps", kustomization)[0] == "stale"
    assert "prunes it at its next successful apply" in classify_extra(stale, {}, "a", kustomization)[1]
    kept = {"metadata": {"annotations": {"kustomize.toolkit.fluxcd.io/prune": "Disabled"}}}
    assert "prune: disabled" in classify_extra(stale, kept, "a", kustomization)[1]
    assert "spec.prune is not true" in classify_extra(stale, {}, "a", {**kustomization, "spec": {}})[1]
    orphan = ResourceKey("", "ConfigMap", "podinfo", "lost")
    assert classify_extra(orphan, {}, "a", kustomization)[0] == "orphan"
    assert classify_extra(orphan, {}, "a", None)[0] == ""  # no Kustomization in the cluster: plain extra


def test_the_next_apply_takes_over_kubectl_fields_but_not_other_managers_or_subresources() -> None:
    def entry(manager: str, operation: str, subresource: str = "") -> dict[str, Any]:
        return {"manager": manager, "operation": operation, "subresource": subresource,
                "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}

    live = {"metadata": {"managedFields": [
        entry("kustomize-controller", "Apply"), entry("kubectl-edit", "Update"),
        entry("kubectl-client-side-apply", "Update"), entry("before-first-apply", "Update"),
        entry("kube-controller-manager", "Update"), entry("kubectl-scale", "Update", "scale"),
        entry("before-first-apply", "Apply")]}}
    owned = [m for m, _ in flux_owned(managed_entries(live), {})]
    assert owned == ["kustomize-controller", "kubectl-edit", "kubectl-client-side-apply",
                     "before-first-apply"]
    merge = {"metadata": {"annotations": {"kustomize.toolkit.fluxcd.io/ssa": "merge"}}}
    assert [m for m, _ in flux_owned(managed_entries(live), merge)] == ["kustomize-controller"]


def test_reconcile_history_says_how_long_after_the_commit_it_was_applied() -> None:
    sha = "a" * 40
    committed = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    body = {"status": {"lastAppliedRevision": f"main@sha1:{sha}", "lastAttemptedRevision": f"main@sha1:{sha}",
                       "history": [{"digest": "sha256:1", "firstReconciled": "2026-03-01T12:10:00Z",
                                    "lastReconciled": "2026-03-02T12:00:00Z", "totalReconciliations": 40,
                                    "lastReconciledStatus": "ReconciliationSucceeded",
                                    "metadata": {"revision": f"main@sha1:{sha}"}}]}}
    status = kustomization_status(body, lambda c: committed if c == sha else None)
    assert status is not None and status["last_applied_revision"] == f"main@sha1:{sha}"
    [entry] = status["history"]
    assert (entry["commit"], entry["applied"], entry["total_reconciliations"]) == \
        (sha, "applied 3 h after the commit", 40)
    assert kustomization_status({}, lambda c: None) is None
