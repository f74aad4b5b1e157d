"""Kubernetes facts: which kinds a default snapshot reads, and how an app's status follows its verdicts."""

from __future__ import annotations

import pytest

from driftcheck import kube


@pytest.mark.parametrize("group, kind, read", [
    ("apps", "Deployment", True),
    ("", "Pod", False),  # built-in, but made by controllers, not kept in Git
    ("events.k8s.io", "Event", False),
    ("gateway.networking.k8s.io", "HTTPRoute", True),  # CRDs, although their groups end in .k8s.io
    ("snapshot.storage.k8s.io", "VolumeSnapshot", True),
    ("autoscaling.k8s.io", "VerticalPodAutoscaler", True),
    ("argoproj.io", "Rollout", True),
    ("metrics.k8s.io", "PodMetrics", False),  # an aggregated read-only API, not a CRD
])
def test_a_default_snapshot_reads_common_builtins_and_every_crd(group: str, kind: str, read: bool) -> None:
    assert kube.is_snapshot_kind(group, kind) is read


def test_every_default_builtin_kind_is_in_a_builtin_group() -> None:
    assert {g for g, _ in kube.SNAPSHOT_BUILTIN_KINDS} <= kube.BUILTIN_GROUPS


def test_an_app_is_in_error_else_as_bad_as_its_worst_verdict() -> None:
    assert kube.app_status({"in-sync": 3, "extra": 1, "unknown": 1}, errors=0) == "unknown"
    assert kube.app_status({"in-sync": 3, "missing": 1, "extra": 2}, errors=0) == "missing"
    assert kube.app_status({"in-sync": 0}, errors=0) == "in-sync"
    assert kube.app_status({"in-sync": 3}, errors=1) == "error"


def test_tally_counts_per_app_and_ranks_the_worst_first() -> None:
    verdicts = [("web", "drifted"), ("api", "in-sync"), ("web", "in-sync"), ("jobs", "unknown")]
    tallies = kube.tally_apps(["web", "api", "legacy"], verdicts, ["api", "nobody"], skipped=["legacy"])
    assert [t.name for t in tallies] == ["web", "api", "legacy", "jobs"], "named apps first, in order"
    assert tallies[0].counts == {"in-sync": 1, "drifted": 1, "missing": 0, "extra": 0, "unknown": 0}
    assert [(t.name, t.status, t.errors) for t in sorted(tallies, key=kube.AppTally.worst_first)] == [
        ("api", "error", 1), ("jobs", "unknown", 0), ("web", "drifted", 0), ("legacy", "skipped", 0)]
