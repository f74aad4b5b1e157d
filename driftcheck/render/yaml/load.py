"""Loading manifests: every object of a YAML or JSON file with its start line, hostile input refused.

Bulk loading uses ruamel's C (libyaml) parser. Hostile input never crashes a run: alias bombs, absurd
nesting, undecodable bytes and oversized files become a `RunError` naming the file, and the other
documents of the file are still loaded where the parser can resynchronise at the next `---`.

Ordinary manifests (no anchors, directives, unusual tags, non-string or duplicate keys) take a fast path
first: PyYAML's libyaml composer and a direct node-to-dict walk, 3-4x faster than ruamel's constructor
plus a copy. Anything the fast path does not handle goes to the ruamel path, which has the
last word on every error. Both type scalars by `dialect`.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.resolver import VersionedResolver

from driftcheck import fastjson
from driftcheck.model import RunError
from driftcheck.render.yaml import dialect
from driftcheck.render.yaml.dialect import OutOfRange
from driftcheck.render.yaml.fast import Manifest, item_lines, load_fast
from driftcheck.render.yaml.limits import (
    C_SAFE_DEPTH_BOUND,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    check_depth,
    nesting_bound,
)

_DUPLICATE = re.compile(r'found duplicate key (".*?") with value')
_DOC_MARKER = re.compile(rb"^---(?:[ \t]|\r?$)", re.MULTILINE)


class _KubeResolver(VersionedResolver):
    """Plain scalars typed by the dialect's table, whatever the document's %YAML directive says."""

    @property
    def versioned_resolver(self) -> Any:
        return self.yaml_implicit_resolvers


for _tag, _regexp, _first in dialect.IMPLICIT:
    _KubeResolver.add_implicit_resolver_base(_tag, _regexp, list(_first))


class _PlainConstructor(SafeConstructor):
    """Plain JSON-able values typed by the dialect: timestamps stay strings, numbers as Go reads them."""

    def construct_yaml_int(self, node: Any) -> int:
        try:
            return dialect.go_int(str(self.construct_scalar(node)))
        except OutOfRange as e:
            e.line = node.start_mark.line
            raise

    def construct_yaml_float(self, node: Any) -> Any:  # float, int or (1e999) str
        return dialect.go_float(str(self.construct_scalar(node)))

    def construct_yaml_bool(self, node: Any) -> bool:
        return dialect.BOOLS[str(self.construct_scalar(node)).lower()]


    # a repeated key: "error" refuses it (kustomize's kyaml), "last" keeps the later value and notes
    # (key, its line, the first one's line), 0-based: sigs.k8s.io/yaml, so ArgoCD's manifest splitter
    keep_last = False
    repeated: list[tuple[str, int, int]]

    def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any) -> bool:
        if key in mapping and self.keep_last:
            first = next((k for k, _ in node.value if k is not key_node and k.value == key_node.value),
                         key_node)
            self.repeated.append((str(key), key_node.start_mark.line, first.start_mark.line))
            return True
        return bool(super().check_mapping_key(node, key_node, mapping, key, value))


DuplicateKeys = Literal["error", "last"]

_PlainConstructor.add_constructor(dialect.TIMESTAMP, SafeConstructor.construct_yaml_str)
_PlainConstructor.add_constructor(dialect.INT, _PlainConstructor.construct_yaml_int)
_PlainConstructor.add_constructor(dialect.FLOAT, _PlainConstructor.construct_yaml_float)
_PlainConstructor.add_constructor(dialect.BOOL, _PlainConstructor.construct_yaml_bool)


class _TooLarge(Exception):
    """A document whose nesting or alias expansion exceeds the limits."""


def load_manifests(data: bytes, file: str, duplicate_keys: DuplicateKeys = "error",
                   ) -> tuple[list[Manifest], list[RunError]]:
    """Every object in a YAML or JSON file, with its 1-based start line; lists are flattened as ArgoCD does.

    Empty documents and non-mapping documents are dropped here; callers decide what a mapping
    without apiVersion/kind means. The line is that of the document's first content line.
    A repeated mapping key is an error, or with duplicate_keys="last" (how ArgoCD reads plain
    manifests and Helm's output) the later value wins and a warning names both lines.
    """
    if len(data) > MAX_FILE_BYTES:
        return [], [RunError(f"file is {len(data)} bytes, larger than the {MAX_FILE_BYTES} byte limit; "
                             "not loaded", file=file, stage="source")]
    if file.endswith(".json"):
        return _load_json(data, file)
    digest = parsed_key(data)
    seen = _PARSED.get(digest)
    if seen is not None:
        return [(body, line) for body, line in fastjson.loads(seen)], []
    fast = load_fast(data)
    if fast is not None:
        _remember(digest, fast)
        return fast, []
    manifests: list[Manifest] = []
    errors: list[RunError] = []
    offset = 0  # lines before the current chunk
    chunk = data
    while chunk:
        resume = _load_chunk(chunk, file, offset, manifests, errors, duplicate_keys == "last")
        if resume is None:
            break
        offset += chunk[:resume].count(b"\n")
        chunk = chunk[resume:]
    if not errors:
        _remember(digest, manifests)  # (a warning is an error here: not remembered, so it is said again)
    return manifests, errors


# Files parsed before, as JSON text: a check renders a commit and then walks its history, which reads
# the same blobs again; JSON parses several times faster than YAML and keeps the cache small.
_PARSED: dict[bytes, str] = {}
_PARSED_MAX_CHARS = 64 * 1024 * 1024
_parsed_chars = 0


def parsed_key(data: bytes) -> bytes:
    """The key of a file's bytes in the cache of parsed files."""
    return hashlib.blake2b(data, digest_size=20).digest()


def parsed_entry(data: bytes) -> str | None:
    """What load_manifests keeps of data once it parsed it (JSON text), if it keeps anything: parse_ahead
    sends it from the process that parsed it to the one that renders."""
    return _PARSED.get(parsed_key(data))


def seed_parsed(digest: bytes, text: str) -> None:
    """Keep an entry parsed_entry gave in another process, within the same bound."""
    global _parsed_chars
    if digest not in _PARSED and _parsed_chars + len(text) <= _PARSED_MAX_CHARS:
        _PARSED[digest] = text
        _parsed_chars += len(text)


def _remember(digest: bytes, manifests: list[Manifest]) -> None:
    global _parsed_chars
    try:
        text = json.dumps(manifests, separators=(",", ":"))
    except (TypeError, ValueError):
        return
    if _parsed_chars + len(text) <= _PARSED_MAX_CHARS:
        _PARSED[digest] = text
        _parsed_chars += len(text)


def _load_json(data: bytes, file: str) -> tuple[list[Manifest], list[RunError]]:
    try:
        doc = dialect.decode_json(data)
    except json.JSONDecodeError as e:
        return [], [RunError(f"malformed JSON: {e.msg}", file=file, line=e.lineno, stage="source")]
    except OutOfRange as e:
        digits = re.search(rb"\d{309}", data)  # the first number that long is the one
        line = data[:digits.start()].count(b"\n") + 1 if digits else 0
        return [], [RunError(str(e), file=file, line=line, stage="source")]
    except UnicodeDecodeError as e:
        return [], [RunError(f"not valid UTF-8 text: {e.reason} at byte {e.start}", file=file,
                             stage="source")]
    except RecursionError:
        return [], [RunError("JSON nested too deeply; not loaded", file=file, stage="source")]
    first = next((i for i, b in enumerate(data) if b not in b" \t\r\n\xef\xbb\xbf"), 0)
    line = data[:first].count(b"\n") + 1
    if not isinstance(doc, dict):
        return [], []
    if dialect.is_list(doc):
        return [(item, line) for item in doc["items"] if isinstance(item, dict)], []
    return ([] if dialect.is_null_list(doc) else [(doc, line)]), []



_local = threading.local()


def _loader(pure: bool = False) -> YAML:
    """This thread's configured YAML instance (building one scans for plug-ins, ~0.25 ms each time); pure:
    a fresh one with ruamel's Python composer (which keeps state between streams, so it is not reused)."""
    yaml: YAML | None = None if pure else getattr(_local, "yaml", None)
    if yaml is None:
        yaml = YAML(typ="safe", pure=pure)
        yaml.Constructor = _PlainConstructor
        yaml.Resolver = _KubeResolver
        if not pure:
            _local.yaml = yaml
    return yaml


def _load_chunk(chunk: bytes, file: str, offset: int, out: list[Manifest],
                errors: list[RunError], keep_last: bool, pure: bool = False) -> int | None:
    """Load documents from chunk; on a parse error, record it and return where to resume (or None).

    An anchor defined twice is valid YAML that go-yaml (kustomize, Flux, ArgoCD) reads with the later
    definition winning; libyaml's composer refuses it, so such a chunk is read again by the pure one.
    """
    loaded, reported = len(out), len(errors)
    try:
        if nesting_bound(chunk) > C_SAFE_DEPTH_BOUND:
            check_depth(YAML(typ="safe").parse(io.BytesIO(chunk)))
        constructor, _ = _loader(pure).get_constructor_parser(io.BytesIO(chunk))
        constructor.keep_last, constructor.repeated = keep_last, []
        composer = constructor.composer  # node by node, so each document keeps its start line
        composer.warn_double_anchors = False
        while composer.check_node():
            node = composer.get_node()
            if node is None:
                continue
            line = offset + node.start_mark.line + 1
            body = _plain(constructor.construct_document(node))
            errors += [RunError(f'mapping key "{key}" repeated (first at line {offset + first + 1}); the '
                                "later value is used, as ArgoCD reads it", file=file, line=offset + at + 1,
                                stage="source", severity="warning")
                       for key, at, first in constructor.repeated]
            constructor.repeated.clear()
            if not isinstance(body, dict):
                continue
            if dialect.is_list(body):
                lines = item_lines(node, offset)
                out.extend((item, lines[i] if i < len(lines) else line)
                           for i, item in enumerate(body["items"]) if isinstance(item, dict))
            elif not dialect.is_null_list(body):
                out.append((body, line))
        return None
    except MarkedYAMLError as e:
        if not pure and "duplicate anchor" in f"{e.context} {e.problem}":
            del out[loaded:], errors[reported:]
            return _load_chunk(chunk, file, offset, out, errors, keep_last, pure=True)
        mark = e.problem_mark or e.context_mark
        err_line = mark.line if mark is not None else 0
        errors.append(RunError(f"malformed YAML: {_problem(e)}", file=file, line=offset + err_line + 1,
                               stage="source"))
        return _next_document(chunk, err_line)
    except _TooLarge as e:
        errors.append(RunError(str(e), file=file, line=offset + 1, stage="source"))
        return None
    except OutOfRange as e:
        errors.append(RunError(str(e), file=file, line=offset + e.line + 1, stage="source"))
        return _next_document(chunk, e.line)
    except RecursionError:
        errors.append(RunError(f"YAML nested deeper than {MAX_DEPTH} levels; not loaded", file=file,
                               line=offset + 1, stage="source"))
        return None
    except (YAMLError, UnicodeDecodeError, ValueError, TypeError) as e:
        # Reader errors (bad encoding), unhashable keys and the like: nothing after is trustworthy.
        errors.append(RunError(f"cannot read YAML: {_problem(e)}", file=file,
                               line=offset + 1 if offset else 0, stage="source"))
        return None


def _problem(e: Exception) -> str:
    dup = _DUPLICATE.search(getattr(e, "problem", None) or "")
    if dup:
        return f"duplicate mapping key {dup.group(1)}"
    if isinstance(e, MarkedYAMLError):
        return " ".join(p for p in (e.context, e.problem) if p) or type(e).__name__
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def _next_document(chunk: bytes, error_line: int) -> int | None:
    """Byte offset of the first `---` marker from error_line (0-based) on, past the chunk's start, if any.

    The error line itself may be the marker: an unclosed flow collection fails there.
    """
    pos = 0
    for _ in range(error_line):
        nl = chunk.find(b"\n", pos)
        if nl < 0:
            return None
        pos = nl + 1
    m = _DOC_MARKER.search(chunk, max(pos, 1))
    return m.start() if m else None


def _plain(doc: Any) -> Any:
    """A tree of fresh dicts/lists/scalars (aliases expanded, keys as strings), within the limits."""
    if not isinstance(doc, (dict, list)):
        return doc
    if _expanded_size(doc, {}, 0) > MAX_NODES:
        raise _TooLarge(f"YAML aliases expand to more than {MAX_NODES} nodes (alias bomb?); not loaded")
    return _copy(doc)


def _expanded_size(obj: Any, memo: dict[int, int], depth: int) -> int:
    if depth > MAX_DEPTH:
        raise RecursionError
    if not isinstance(obj, (dict, list)):
        return 1
    known = memo.get(id(obj))
    if known is not None:
        return known
    children = obj.values() if isinstance(obj, dict) else obj
    size = 1
    for child in children:
        size += _expanded_size(child, memo, depth + 1)
        if size > MAX_NODES:
            break
    memo[id(obj)] = size
    return size


def _copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {dialect.key_text(k): _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    if isinstance(obj, bytes):
        return obj.decode("latin-1")
    return obj
