"""The fast path: ordinary manifests walked from PyYAML's libyaml nodes straight into plain dicts.

Whole files only, and only what it types exactly as the full (ruamel) path does; anything else
(anchors, directives, explicit tags, non-string or duplicate keys, deep nesting, any error) is left to it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml as pyyaml
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from driftcheck.render.yaml import dialect
from driftcheck.render.yaml.limits import C_SAFE_DEPTH_BOUND, MAX_NODES, nesting_bound

Manifest = tuple[dict[str, Any], int]

_FAST_MAX_BYTES = MAX_NODES // 2  # fewer bytes than this cannot make MAX_NODES nodes without aliases
_FAST_MAX_DEPTH = 100  # far below MAX_DEPTH and the recursion limit; deeper files take the full path
_NOT_FAST = re.compile(rb"&|^%", re.MULTILINE)  # anchors (so aliases) and directives (of any document)
_DEFAULT_TAGS = {pyyaml.ScalarNode: dialect.STR, pyyaml.SequenceNode: dialect.SEQ,
                 pyyaml.MappingNode: dialect.MAP}


class DialectComposer(pyyaml.CSafeLoader):
    """PyYAML's libyaml loader, plain scalars typed by the dialect's table (the fast path only composes)."""

    def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
        if kind is pyyaml.ScalarNode and implicit[0] and value is not None:
            return dialect.plain_tag(value)
        return _DEFAULT_TAGS[kind]

    def descend_resolver(self, parent: Any, index: Any) -> None:
        """No path-based resolvers: nothing to track while descending."""

    def ascend_resolver(self) -> None:
        """No path-based resolvers: nothing to track while ascending."""


class _NotFast(Exception):
    """Something the fast path leaves to the full path."""


def load_fast(data: bytes) -> list[Manifest] | None:
    """The file's objects if it holds only what the fast path types exactly as the full path; else None."""
    if len(data) > _FAST_MAX_BYTES or _NOT_FAST.search(data) or nesting_bound(data) > C_SAFE_DEPTH_BOUND:
        return None
    out: list[Manifest] = []
    try:
        composer = DialectComposer(data)
        while composer.check_node():
            node = composer.get_node()
            if type(node) is not pyyaml.MappingNode:
                _value(node, 0)  # a scalar or list document is dropped, but must still be valid
                continue
            body = _value(node, 0)
            line = node.start_mark.line + 1
            if dialect.is_list(body):
                lines = item_lines(node, 0)
                out.extend((item, lines[i] if i < len(lines) else line)
                           for i, item in enumerate(body["items"]) if isinstance(item, dict))
            elif not dialect.is_null_list(body):
                out.append((body, line))
    except Exception:  # whatever it is, the full path reports it as it always has
        return None
    return out


def _value(node: Any, depth: int) -> Any:
    """A node as a fresh plain value, typed as the full path types it; _NotFast for anything else."""
    if depth > _FAST_MAX_DEPTH:
        raise _NotFast
    kind, tag = type(node), node.tag
    if kind is pyyaml.ScalarNode:
        text = node.value
        if tag == dialect.STR:
            return text
        if tag == dialect.INT:
            return dialect.go_int(text)
        if tag == dialect.BOOL:
            return dialect.BOOLS[text.lower()]
        if tag == dialect.NULL:
            return None
        if tag == dialect.FLOAT:
            return dialect.go_float(text)
    elif kind is pyyaml.MappingNode and tag == dialect.MAP:
        out: dict[str, Any] = {}
        for key, value in node.value:
            if type(key) is not pyyaml.ScalarNode or key.tag != dialect.STR or key.value in out:
                raise _NotFast  # non-string, merge or duplicate keys
            out[key.value] = _value(value, depth + 1)
        return out
    elif kind is pyyaml.SequenceNode and tag == dialect.SEQ:
        return [_value(item, depth + 1) for item in node.value]
    raise _NotFast


def item_lines(node: Node | pyyaml.Node, offset: int) -> list[int]:
    """1-based lines of the entries of a `kind: List` document's `items` (ruamel or PyYAML nodes)."""
    if not isinstance(node, (MappingNode, pyyaml.MappingNode)):
        return []
    for key, value in node.value:
        if getattr(key, "value", None) == "items" and isinstance(value, (SequenceNode, pyyaml.SequenceNode)):
            return [offset + item.start_mark.line + 1 for item in value.value]
    return []
