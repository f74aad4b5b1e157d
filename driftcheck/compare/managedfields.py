"""managedFields: parsing fieldsV1 and finding which field manager owns a path of a live object."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from driftcheck.compare.pointer import Path
from driftcheck.model import ChangedBy


@dataclass
class FieldNode:
    """One node of a fieldsV1 set: `f:` fields, `k:{...}` keyed items, `v:` set values, `i:` indices.

    `member` is true when the node itself is in the set (a leaf `{}` or a `.` entry).
    """

    fields: dict[str, FieldNode] = field(default_factory=dict)
    keyed: list[tuple[dict[str, Any], FieldNode]] = field(default_factory=list)
    values: list[tuple[Any, FieldNode]] = field(default_factory=list)
    indices: dict[int, FieldNode] = field(default_factory=dict)
    member: bool = False

    @property
    def is_leaf(self) -> bool:
        return not (self.fields or self.keyed or self.values or self.indices)

    def item(self, value: Any, index: int) -> FieldNode | None:
        """The child for list item `value` at `index`: by its key fields, its value, or its position."""
        if isinstance(value, dict):
            for key, node in self.keyed:
                if all(_same(value.get(k), v) for k, v in key.items()):
                    return node
        for set_value, node in self.values:
            if set_value == value:
                return node
        return self.indices.get(index)


def _same(a: Any, b: Any) -> bool:
    return a == b or (a is not None and b is not None and str(a) == str(b))


def parse_fields(raw: Any) -> FieldNode:
    """Parse a fieldsV1 map; unknown or malformed entries are skipped (a corrupt entry owns nothing)."""
    node = FieldNode()
    if not isinstance(raw, dict) or not raw:
        node.member = True
        return node
    for key, sub in raw.items():
        if key == ".":
            node.member = True
            continue
        prefix, _, rest = str(key).partition(":")
        child = parse_fields(sub)
        try:
            if prefix == "f":
                node.fields[rest] = child
            elif prefix == "k":
                parsed = json.loads(rest)
                if isinstance(parsed, dict):
                    node.keyed.append((parsed, child))
            elif prefix == "v":
                node.values.append((json.loads(rest), child))
            elif prefix == "i":
                node.indices[int(rest)] = child
        except ValueError:
            continue
    return node


@dataclass
class ManagedEntry:
    manager: str
    operation: str
    time: str
    subresource: str
    fields: FieldNode

    @property
    def changed_by(self) -> ChangedBy:
        return ChangedBy(self.manager, self.operation, self.time, self.subresource)


def managed_entries(body: dict[str, Any]) -> list[ManagedEntry]:
    """The managedFields entries of a live object, parsed; tolerant of missing parts."""
    meta = body.get("metadata")
    raws = meta.get("managedFields") if isinstance(meta, dict) else None
    out = []
    for raw in raws if isinstance(raws, list) else []:
        if not isinstance(raw, dict) or raw.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        out.append(ManagedEntry(str(raw.get("manager", "")), str(raw.get("operation", "")),
                                str(raw.get("time", "") or ""), str(raw.get("subresource", "") or ""),
                                parse_fields(raw.get("fieldsV1") or {})))
    return out


def node_at(root: FieldNode, body: Any, path: Path) -> tuple[FieldNode | None, bool]:
    """The fieldset node for a concrete path of `body` (list items resolved against body's items),
    and whether an ancestor on the way is an owned leaf — an atomic field owned as a whole."""
    node: FieldNode | None = root
    value = body
    for seg in path:
        if node is None:
            return None, False
        if node.member and node.is_leaf and node is not root:
            return node, True
        if isinstance(seg, int):
            if not isinstance(value, list) or not 0 <= seg < len(value):
                return None, False
            value = value[seg]
            node = node.item(value, seg)
        else:
            value = value.get(seg) if isinstance(value, dict) else None
            node = node.fields.get(seg)
    return node, False


def has_member(node: FieldNode) -> bool:
    """Whether the node or anything below it is in the set."""
    return node.member or any(has_member(c) for c in _children(node))


def _children(node: FieldNode) -> Iterator[FieldNode]:
    yield from node.fields.values()
    yield from (n for _, n in node.keyed)
    yield from (n for _, n in node.values)
    yield from node.indices.values()


def owner(entries: list[ManagedEntry], body: Any, path: Path) -> ChangedBy | None:
    """The entry owning `path`: an exact member wins over one owning only parts; then the latest."""
    best: tuple[int, str] | None = None
    chosen: ManagedEntry | None = None
    for entry in entries:
        node, atomic = node_at(entry.fields, body, path)
        if node is None:
            continue
        score = 2 if node.member or atomic else 1 if has_member(node) else 0
        if score and (best is None or (score, entry.time) > best):
            best, chosen = (score, entry.time), entry
    return chosen.changed_by if chosen else None


def owned_leaves(root: FieldNode, body: Any, prefix: Path = ()) -> Iterator[Path]:
    """Concrete paths of `body` whose leaf fields the set contains (for managedFieldsManagers rules)."""
    if root.is_leaf:
        if root.member and prefix:
            yield prefix
        return
    if isinstance(body, dict):
        for name, child in root.fields.items():
            if name in body:
                yield from owned_leaves(child, body[name], (*prefix, name))
    elif isinstance(body, list):
        for i, item in enumerate(body):
            item_node = root.item(item, i)
            if item_node is not None:
                yield from owned_leaves(item_node, item, (*prefix, i))
