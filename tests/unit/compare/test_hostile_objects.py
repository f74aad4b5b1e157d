"""Whatever the cluster or Git holds, the comparison returns a verdict and never raises."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from driftcheck.compare import coverage, explain
from driftcheck.model import LiveState
from testing.compare_helpers import APP, res, run

SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=4),
                   st.sampled_from(["500m", "1Gi", "{", "[1]", "k:{}", "<redacted by driftcheck>"]))
KEYS = st.sampled_from(["spec", "data", "stringData", "labels", "annotations", "containers", "name", "ports",
                        "subsets", "env", "managedFields", "fieldsV1", "f:spec", 'k:{"name":"a"}', "rules",
                        "kubectl.kubernetes.io/last-applied-configuration", "encryptedData", "status"])
JSON = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                    st.dictionaries(KEYS, inner, max_size=4)), max_leaves=20)
KINDS = st.sampled_from([("v1", "Secret"), ("apps/v1", "Deployment"),
                         ("bitnami.com/v1alpha1", "SealedSecret"),
                         ("networking.istio.io/v1", "DestinationRule"), ("v1", "Endpoints"),
                         ("rbac.authorization.k8s.io/v1", "ClusterRole"),
                         ("autoscaling/v1", "HorizontalPodAutoscaler")])
NAMED = {"name": "x", "namespace": "blog-system"}


def body(kind: tuple[str, str], content: dict, meta: object) -> dict:
    return {**content, "apiVersion": kind[0], "kind": kind[1],
            "metadata": meta if isinstance(meta, dict) else {**NAMED, "x": meta}}


@settings(max_examples=120, deadline=None)
@given(KINDS, st.dictionaries(KEYS, JSON, max_size=4), st.dictionaries(KEYS, JSON, max_size=4), JSON,
       st.dictionaries(st.sampled_from(["labels", "annotations", "ownerReferences"]), JSON),
       st.sampled_from(["argo-rollouts", "hpa", "istio", "webhooks"]))
def test_any_pair_gets_a_verdict(kind: tuple[str, str], desired: dict, live: dict, managed: object,
                                 odd_meta: dict, pack: str) -> None:
    applied = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(desired)}
    live_meta = {"annotations": applied, **odd_meta, **NAMED, "managedFields": managed}
    rules = [{"kind": "*", "group": "*", "jsonPointers": ["/spec/0/x"], "jqPathExpressions": [".spec[]?"]}]
    git, cluster = body(kind, desired, {**odd_meta, **NAMED}), body(kind, live, live_meta)
    results, _, _ = run([git], [cluster], packs=[pack], app_rules=rules)
    assert [r.status for r in results] in (["in-sync"], ["drifted"])
    assert explain(results[0], res(git), res(cluster, "cluster")).startswith(str(results[0].key))
    [row], _ = coverage([APP], results, LiveState([res(cluster, "cluster")]))
    assert row["managed"] + row["unmanaged"] <= 1
