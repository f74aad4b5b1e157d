"""Any object body survives write_snapshot -> read_snapshot unchanged (bounded hypothesis search)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftcheck.live.snapshot import read_snapshot, write_snapshot
from driftcheck.model import LiveState, Origin, Resource, ResourceKey

NAMES = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)
SCALARS = (st.none() | st.booleans() | st.integers(-(2**53), 2**53)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=25)


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    kind, api_version = draw(st.sampled_from([("ConfigMap", "v1"), ("Deployment", "apps/v1"),
                                              ("Rollout", "argoproj.io/v1alpha1")]))
    meta: dict[str, Any] = {"name": draw(NAMES), "namespace": draw(NAMES)}
    meta["annotations"] = draw(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=60),
                                               max_size=3))
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": draw(VALUES)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(bodies(), min_size=1, max_size=5, unique_by=lambda b: (b["kind"], b["metadata"]["name"],
                                                                       b["metadata"]["namespace"])))
def test_objects_come_back_exactly(objects: list[dict[str, Any]]) -> None:
    state = LiveState(resources=[Resource(ResourceKey.of(o), o["apiVersion"], o, Origin("cluster"))
                                 for o in objects])
    with tempfile.TemporaryDirectory() as tmp:
        write_snapshot(state, Path(tmp) / "s.yaml")
        back = read_snapshot(Path(tmp) / "s.yaml")
    assert {r.key: r.body for r in back.resources} == {r.key: r.body for r in state.resources}
