"""Fuzzing the fieldsV1 (managedFields) parser: whatever a cluster or a snapshot holds in managedFields,
parsing and attribution never raise, and a well-formed set owns exactly the paths it lists."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftcheck.compare.managedfields import managed_entries, owned_leaves, owner, parse_fields

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=15)
field_keys = st.sampled_from([".", "f:spec", "f:replicas", "f:containers", 'k:{"name":"web"}', "k:{bad",
                              'k:["list"]', "v:1", 'v:"x"', "v:{", "i:0", "i:x", "i:-1", "f:", "odd:1", ""])
fieldsets = st.recursive(st.just({}) | values, lambda inner: st.dictionaries(
    field_keys | st.text(max_size=5), inner, max_size=4), max_leaves=20)
paths = st.lists(st.sampled_from(["spec", "replicas", "containers", "name", "image"]) | st.integers(-1, 3),
                 max_size=4).map(tuple)


@FUZZ
@given(fieldsets, values, paths)
def test_any_fieldset_parses_and_attributes_without_raising(raw: Any, body: Any,
                                                            path: tuple[Any, ...]) -> None:
    root = parse_fields(raw)
    list(owned_leaves(root, body))
    live = {"metadata": {"managedFields": [
        {"manager": "argocd-controller", "operation": "Apply", "time": "2026-01-01T00:00:00Z",
         "fieldsV1": raw},
        {"manager": "kubectl-edit", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": raw},
        {"manager": 5, "fieldsV1": "not a map"}, "garbage", None]}, "spec": body}
    entries = managed_entries(live)
    assert len(entries) == 3
    owner(entries, live, ("spec", *path))


names = st.text(alphabet="abcxyz", min_size=1, max_size=4)
trees = st.recursive(st.integers(0, 9) | names,
                     lambda inner: st.dictionaries(names, inner, min_size=1, max_size=3), max_leaves=10)


def to_fieldset(obj: Any) -> dict[str, Any]:
    """The fieldsV1 set a server would record for an object whose every leaf field the manager set."""
    if not isinstance(obj, dict):
        return {}
    return {f"f:{k}": to_fieldset(v) for k, v in obj.items()}


def leaves(obj: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    if not isinstance(obj, dict):
        return {prefix}
    return set().union(*(leaves(v, (*prefix, k)) for k, v in obj.items()))


@FUZZ
@given(st.dictionaries(names, trees, min_size=1, max_size=3))
def test_a_well_formed_set_owns_exactly_its_leaves(obj: dict[str, Any]) -> None:
    raw = json.loads(json.dumps(to_fieldset(obj)))
    assert set(owned_leaves(parse_fields(raw), obj)) == leaves(obj)
    entries = managed_entries({"metadata": {"managedFields": [
        {"manager": "argocd-controller", "operation": "Apply", "time": "t", "fieldsV1": raw}]}})
    for leaf in leaves(obj):
        changed_by = owner(entries, obj, leaf)
        assert changed_by is not None and changed_by.manager == "argocd-controller"
    assert owner(entries, obj, ("not-a-field",)) is None
