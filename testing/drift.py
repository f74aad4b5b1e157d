"""Hand changes to live objects, recorded the way the API server records them in `managedFields`.

`kubectl set image`, `kubectl edit`, `kubectl annotate` and `kubectl scale` change a value and move
the ownership of that field to their own manager; the demo and the benchmarks plant drift with them
so that field-manager attribution meets real data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from driftcheck.kube import BUILTIN_GROUPS
from driftcheck.model import split_api_version
from testing.livify import list_item_key, managed_entry


def _segments(pointer: str) -> list[str]:
    return [s.replace("~1", "/").replace("~0", "~") for s in pointer.split("/")[1:]]


def _field_path(obj: dict[str, Any], segments: list[str]) -> list[str]:
    """The fieldsV1 path (`f:name`, `k:{...}`) of a JSON pointer; stops at an atomic list."""
    typed = split_api_version(obj.get("apiVersion", ""))[0] in BUILTIN_GROUPS
    service = obj.get("kind") == "Service"
    path: list[str] = []
    node: Any = obj
    parent_name = ""
    for seg in segments:
        if isinstance(node, list):
            item = node[int(seg)]
            key = list_item_key(parent_name, item, typed, service)
            if key is None:
                return path
            path.append(key)
            node = item
        else:
            path.append(f"f:{seg}")
            parent_name, node = seg, (node or {}).get(seg)
    return path


def _set(obj: dict[str, Any], segments: list[str], value: Any) -> None:
    node: Any = obj
    for seg in segments[:-1]:
        node = node[int(seg)] if isinstance(node, list) else node.setdefault(seg, {})
    last = segments[-1]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is None:
        node.pop(last, None)
    else:
        node[last] = value


def _disown(fields: dict[str, Any], path: list[str]) -> None:
    node: Any = fields
    for step in path[:-1]:
        node = node.get(step)
        if not isinstance(node, dict):
            return
    node.pop(path[-1], None)


def _own(fields: dict[str, Any], path: list[str]) -> None:
    node = fields
    for step in path:
        node = node.setdefault(step, {})


def set_field(obj: dict[str, Any], pointer: str, value: Any, *, manager: str, moment: datetime,
              operation: str = "Update", subresource: str = "") -> None:
    """Change (or, with None, remove) the field at `pointer` as `manager` did at `moment`."""
    segments = _segments(pointer)
    _set(obj, segments, value)
    path = _field_path(obj, segments)
    meta = obj["metadata"]
    entries = meta.setdefault("managedFields", [])
    for entry in entries:
        if entry.get("subresource") != "status":
            _disown(entry["fieldsV1"], path)
    mine = next((e for e in entries if e["manager"] == manager and e["operation"] == operation
                 and e.get("subresource", "") == subresource), None)
    if mine is None:
        mine = managed_entry(manager, operation, moment, obj["apiVersion"], {}, subresource)
        entries.append(mine)
    if value is not None:
        _own(mine["fieldsV1"], path)
    mine["time"] = managed_entry(manager, operation, moment, "", {})["time"]
    if segments[0] == "spec" and "generation" in meta:
        meta["generation"] += 1
    meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
