"""Whole YAML streams of any shape, typed by the dialect: live snapshots, driftcheck.yaml and rule files.

Manifests from Git go through `load` (errors per file, resync at `---`); these readers serve files
where one error ends the read, and config files, which need the line of each key to name mistakes.
"""

from __future__ import annotations

import io
from collections.abc import Hashable
from typing import Any

import yaml as pyyaml
from yaml.constructor import ConstructorError

from driftcheck.render.yaml import dialect
from driftcheck.render.yaml.fast import DialectComposer
from driftcheck.render.yaml.limits import C_SAFE_DEPTH_BOUND, MAX_DEPTH, MAX_NODES, check_depth, nesting_bound


class YAMLStreamError(ValueError):
    """YAML that cannot be read: `problem` in words, `line` 1-based (0 when unknown)."""

    def __init__(self, problem: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {problem}" if line else problem)
        self.problem = problem
        self.line = line


class LinedMap(dict[str, Any]):
    """A mapping that remembers the 1-based line of each key."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str, int] = {}


class LinedSeq(list[Any]):
    """A list that remembers the 1-based line of each item."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []


class _Loader(DialectComposer):
    """libyaml parsing, the dialect's typing, keys as JSON strings, duplicate keys refused."""

    def construct_yaml_int(self, node: Any) -> int:
        try:
            return dialect.go_int(str(self.construct_scalar(node)))
        except dialect.OutOfRange as e:
            raise YAMLStreamError(str(e), node.start_mark.line + 1) from None

    def construct_yaml_float(self, node: Any) -> Any:  # float, int or (1e999) str
        return dialect.go_float(str(self.construct_scalar(node)))

    def construct_yaml_bool(self, node: Any) -> bool:
        return dialect.BOOLS[str(self.construct_scalar(node)).lower()]

    def construct_timestamp(self, node: Any) -> str:
        return str(self.construct_scalar(node))  # JSON, and so Kubernetes, has no dates

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[str] = set()
        for key, _ in node.value:
            if isinstance(key, pyyaml.ScalarNode) and key.tag != dialect.MERGE:
                if key.value in seen:
                    raise ConstructorError(None, None, f'duplicate mapping key "{key.value}"', key.start_mark)
                seen.add(key.value)
        mapping = super().construct_mapping(node, deep)
        return {dialect.key_text(k): v for k, v in mapping.items()}


_Loader.add_constructor(dialect.TIMESTAMP, _Loader.construct_timestamp)
_Loader.add_constructor(dialect.INT, _Loader.construct_yaml_int)
_Loader.add_constructor(dialect.FLOAT, _Loader.construct_yaml_float)
_Loader.add_constructor(dialect.BOOL, _Loader.construct_yaml_bool)


class _LinedLoader(_Loader):
    """As _Loader, with mappings and lists that know their lines."""

    def construct_lined_map(self, node: Any) -> Any:
        data = LinedMap()
        yield data
        data.update({str(k): v for k, v in self.construct_mapping(node).items()})
        for key, _ in node.value:
            if isinstance(key, pyyaml.ScalarNode):
                data.lines.setdefault(key.value, key.start_mark.line + 1)

    def construct_lined_seq(self, node: Any) -> Any:
        data = LinedSeq()
        data.lines = [item.start_mark.line + 1 for item in node.value]
        yield data
        data.extend(self.construct_sequence(node))


_LinedLoader.add_constructor(dialect.MAP, _LinedLoader.construct_lined_map)
_LinedLoader.add_constructor(dialect.SEQ, _LinedLoader.construct_lined_seq)


def load_documents(text: str | bytes) -> list[Any]:
    """Every document of a YAML stream as plain values (aliases expanded); YAMLStreamError if any is bad."""
    docs: list[Any] = _read(text, lambda loader: [loader.get_data() for _ in iter(loader.check_data, False)])
    if ("&" in text) if isinstance(text, str) else (b"&" in text):  # anchors: expand, within the limits
        docs = [_expanded(doc) for doc in docs]
    return docs


def load_single(text: str | bytes) -> Any:
    """The one document of a file (a rule file): plain values; a second document is an error."""
    return _read(text, lambda loader: loader.get_single_data())


def load_lined(text: str | bytes) -> Any:
    """The one document of a config file; its mappings and lists are LinedMap and LinedSeq."""
    return _read(text, lambda loader: loader.get_single_data(), _LinedLoader)


def load_lined_documents(text: str | bytes) -> list[Any]:
    """Every document of a config stream (a file of Secrets), its mappings and lists LinedMap and LinedSeq."""
    docs: list[Any] = _read(text, lambda loader: [loader.get_data() for _ in iter(loader.check_data, False)],
                            _LinedLoader)
    return docs


def _read(text: str | bytes, take: Any, loader_class: type[_Loader] = _Loader) -> Any:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    try:
        if nesting_bound(data) > C_SAFE_DEPTH_BOUND:
            check_depth(pyyaml.parse(io.BytesIO(data), Loader=pyyaml.CSafeLoader))
        loader = loader_class(text)
        try:
            return take(loader)
        finally:
            loader.dispose()
    except pyyaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(p for p in (e.context, e.problem) if p) or type(e).__name__
        raise YAMLStreamError(problem, mark.line + 1 if mark is not None else 0) from None
    except pyyaml.YAMLError as e:
        raise YAMLStreamError(" ".join(str(e).split()) or type(e).__name__) from None
    except RecursionError:
        raise YAMLStreamError(f"YAML nested deeper than {MAX_DEPTH} levels") from None


def _expanded(doc: Any) -> Any:
    """A fresh tree with no shared parts, refused past MAX_NODES nodes (an alias bomb)."""
    budget = [MAX_NODES]

    def copy(value: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise YAMLStreamError(f"YAML aliases expand to more than {MAX_NODES} nodes (alias bomb?)")
        if depth > MAX_DEPTH:
            raise YAMLStreamError(f"YAML nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            return {k: copy(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [copy(v, depth + 1) for v in value]
        return value

    return copy(doc, 0)
