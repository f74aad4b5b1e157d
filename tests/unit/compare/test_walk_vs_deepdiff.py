"""The walk cross-checked against deepdiff on plain maps, where both must find the same changed leaves."""

from __future__ import annotations

import copy
import re

from deepdiff import DeepDiff
from hypothesis import given, settings
from hypothesis import strategies as st

from driftcheck.compare.diff import Walker
from driftcheck.compare.pointer import ABSENT, to_pointer

KEYS = st.sampled_from(["app", "tier", "image", "port", "mode", "host", "path"])
SCALARS = st.one_of(st.text(alphabet="abcxyz-", min_size=1, max_size=6), st.integers(0, 70000), st.booleans())
MAPS = st.recursive(st.dictionaries(KEYS, SCALARS, min_size=1, max_size=4),
                    lambda inner: st.dictionaries(KEYS, inner, min_size=1, max_size=4), max_leaves=12)


def leaves(node: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for key, value in node.items():
        out += leaves(value, (*prefix, key)) if isinstance(value, dict) else [(*prefix, key)]
    return out


def deepdiff_pointers(a: dict, b: dict) -> list[str]:
    changed = DeepDiff(a, b, ignore_order=False).get("values_changed", {})
    changed |= DeepDiff(a, b).get("type_changes", {})
    return sorted(to_pointer(tuple(re.findall(r"\['([^']*)'\]", path))) for path in changed)


@settings(max_examples=60, deadline=None)
@given(MAPS, st.data())
def test_changed_scalars_are_found_where_deepdiff_finds_them(desired: dict, data: st.DataObject) -> None:
    live = copy.deepcopy(desired)
    for path in data.draw(st.lists(st.sampled_from(leaves(desired)), unique=True, max_size=3)):
        node = live
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = data.draw(SCALARS)
    walker = Walker("example.com", "Widget")
    walker.run(desired, live, ABSENT, [])
    ours = sorted(to_pointer(d.path) for d in walker.diffs)
    # int-or-string aside ("8080" == 8080 once stored), the two must agree leaf for leaf
    theirs = [p for p in deepdiff_pointers(desired, live)
              if not _int_string_pair(desired, live, p)]
    assert ours == theirs


def _int_string_pair(a: dict, b: dict, pointer: str) -> bool:
    for key in pointer[1:].split("/"):
        a, b = a[key], b[key]
    return {type(a), type(b)} == {int, str} and str(a) == str(b)
