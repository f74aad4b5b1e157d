"""Matching live state to a past commit: the newest deploy whose object equals live on every drifted field."""

from __future__ import annotations

from typing import Any

from driftcheck.compare.canonical import is_empty, scalars_equal
from driftcheck.compare.mergekeys import find_item
from driftcheck.compare.pointer import ABSENT, parse_pointer
from driftcheck.history.state import Snapshot
from driftcheck.history.walk import HistoryResult
from driftcheck.model import Resource, ResourceKey, ResourceResult


def match_live_commit(history: HistoryResult, result: ResourceResult,
                      live: Resource) -> dict[str, Any] | None:
    """The newest deploy whose desired object equals the live one on every drifted field.

    Paths are the FieldDiffs' JSON pointers into the desired body at the revision. List items are
    followed by their merge key (compare.mergekeys: containers by name, ports by port and protocol,
    ...) into older commits and into the live object, so a reordered list does not break the match;
    scalars compare as compare does (quantities, int-or-string). Returns {commit, date, behind},
    behind counting the app's deploys after that commit, or None when Git never had those values.
    """
    if not result.diffs or not history.timeline:
        return None
    key = result.key
    current = _object_in(history.timeline[0], key)
    wanted = [(segments, _follow(current, segments, live.body, key)) for segments in
              (parse_pointer(d.path) for d in result.diffs)]
    for behind, snapshot in enumerate(history.timeline):
        body = _object_in(snapshot, key)
        if body is not None and all(_same(_follow(current, segments, body, key), value, segments)
                                    for segments, value in wanted):
            return {"commit": snapshot.commit, "date": snapshot.date, "behind": behind}
    return None


def _object_in(snapshot: Snapshot, key: ResourceKey) -> dict[str, Any] | None:
    body = snapshot.objects.get(key)
    if body is None:  # keyed cluster-scoped by the audit, or namespaced by us: match without namespace
        same = [b for k, b in snapshot.objects.items()
                if (k.group, k.kind, k.name) == (key.group, key.kind, key.name)]
        body = same[0] if len(same) == 1 else None
    return body


def _follow(reference: Any, segments: tuple[str, ...], target: Any, key: ResourceKey) -> Any:
    """The value in target at the pointer segments meant in reference (list items by merge key), or ABSENT."""
    names: tuple[str, ...] = ()
    for segment in segments:
        if isinstance(target, dict):
            reference = reference.get(segment, ABSENT) if isinstance(reference, dict) else ABSENT
            target = target.get(segment, ABSENT)
            names += (segment,)
        elif isinstance(target, list) and segment.isdigit():
            position = int(segment)
            known = isinstance(reference, list) and position < len(reference)
            like = reference[position] if known else ABSENT
            index = find_item(names, key.group, key.kind, target, like, position) if known else position
            if index is None or index >= len(target):
                return ABSENT
            reference, target = like, target[index]
        else:
            return ABSENT
    return target


def _same(a: Any, b: Any, segments: tuple[str, ...]) -> bool:
    if is_empty(a) and is_empty(b):
        return True
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return bool(a == b)
    names = tuple(s for s in segments if not s.isdigit())
    return scalars_equal(a, b, names)
