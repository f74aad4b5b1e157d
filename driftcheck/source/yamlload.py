"""The Kubernetes YAML dialect: manifests loaded into plain dicts with their start lines, and written back.

Bulk loading uses ruamel's C (libyaml) parser. Hostile input never crashes a run: alias bombs, absurd
nesting, undecodable bytes and oversized files become a `RunError` naming the file, and the other
documents of the file are still loaded where the parser can resynchronise at the next `---`.

Ordinary manifests (no anchors, directives, unusual tags, non-string or duplicate keys) take a fast path
first: PyYAML's libyaml composer and a direct node-to-dict walk, 3-4x faster than ruamel's constructor
plus a copy. Anything the fast path does not handle goes to the ruamel path, which has the
last word on every error.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
import threading
from datetime import date, datetime
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.representer import SafeRepresenter
from ruamel.yaml.resolver import VersionedResolver

from driftcheck.model import RunError

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 500  # Kubernetes objects, CRD schemas included, stay far below this
MAX_NODES = 2_000_000  # after alias expansion; a billion-laughs document blows past it at once
# The C composer recurses on the C stack; below this nesting bound it is known to be safe.
_C_SAFE_DEPTH_BOUND = 5000
_DUPLICATE = re.compile(r'found duplicate key (".*?") with value')
_DOC_MARKER = re.compile(rb"^---(?:[ \t]|\r?$)", re.MULTILINE)

Manifest = tuple[dict[str, Any], int]


class _KubeResolver(VersionedResolver):
    """Plain scalars typed as Kubernetes' own YAML decoder (go-yaml v2 via sigs.k8s.io/yaml) types them.

    That is YAML 1.1 flavoured: yes/no/on/off/y/n are booleans and 0755 is octal, but there are
    no sexagesimal numbers (12:30 stays a string) and dates stay strings.
    """

    @property
    def versioned_resolver(self) -> Any:
        return self.yaml_implicit_resolvers


_IMPLICIT = tuple((f"tag:yaml.org,2002:{tag}", re.compile(regexp), list(first)) for tag, regexp, first in (
    ("bool", r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
     "yYnNtTfFoO"),
    ("int", r"^(?:[-+]?0b[0-1_]+|[-+]?0o[0-7_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$",
     "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
    ("merge", r"^(?:<<)$", "<"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
))
for _tag, _regexp, _first in _IMPLICIT:
    _KubeResolver.add_implicit_resolver_base(_tag, _regexp, _first)


class _DumpResolver(_KubeResolver):
    """Strings a Kubernetes decoder would read as another type (dates included) are quoted when written."""


_DumpResolver.add_implicit_resolver_base(
    "tag:yaml.org,2002:timestamp", re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?$"),
    list("0123456789"))
_DumpResolver.add_implicit_resolver_base(  # sexagesimal (12:30) for YAML 1.1 readers other than Kubernetes
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$"),
    list("-+0123456789"))


class _PlainConstructor(SafeConstructor):
    """Plain JSON-able values: timestamps stay strings; integers parse as Go's ParseInt(s, 0) does."""

    def construct_yaml_int(self, node: Any) -> int:
        try:
            return _go_int(str(self.construct_scalar(node)))
        except OutOfRange as e:
            e.line = node.start_mark.line
            raise


class OutOfRange(ValueError):
    """An integer no Kubernetes decoder reads: beyond float64, which is past int64 where it falls back."""

    def __init__(self, digits: int, line: int = 0) -> None:
        super().__init__(f"integer of {digits} digits is out of range (Kubernetes reads numbers as "
                         "64-bit integers or floats)")
        self.line = line


def _go_int(text: str) -> int:
    """An integer scalar as Go's strconv.ParseInt(s, 0, 64) reads it (0755 is octal).

    Beyond int64 apimachinery's JSON decoding falls back to float64 and fails past its range; such an
    integer is OutOfRange here too (and Python's int-string conversion limit is never reached).
    """
    text = text.replace("_", "")
    sign, digits = (-1, text[1:]) if text[0] == "-" else (1, text.lstrip("+"))
    if len(digits) > _MAX_INT_CHARS:
        raise OutOfRange(len(digits))
    if digits[:2] in ("0x", "0o", "0b"):
        value = sign * int(digits, 0)
    else:
        value = sign * int(digits, 8 if len(digits) > 1 and digits[0] == "0" else 10)
    if abs(value) > _FLOAT_MAX:
        raise OutOfRange(len(digits))
    return value


_FLOAT_MAX = int(sys.float_info.max)
_MAX_INT_CHARS = 1100  # a binary literal of float64's range; anything longer is out of range anyway


_PlainConstructor.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)
_PlainConstructor.add_constructor("tag:yaml.org,2002:int", _PlainConstructor.construct_yaml_int)


class _TooLarge(Exception):
    """A document whose nesting or alias expansion exceeds the limits."""


def load_manifests(data: bytes, file: str) -> tuple[list[Manifest], list[RunError]]:
    """Every object in a YAML or JSON file, with its 1-based start line; `kind: List` is flattened.

    Empty documents and non-mapping documents are dropped here; callers decide what a mapping
    without apiVersion/kind means. The line is that of the document's first content line.
    """
    if len(data) > MAX_FILE_BYTES:
        return [], [RunError(f"file is {len(data)} bytes, larger than the {MAX_FILE_BYTES} byte limit; "
                             "not loaded", file=file, stage="source")]
    if file.endswith(".json"):
        return _load_json(data, file)
    digest = hashlib.blake2b(data, digest_size=20).digest()
    seen = _PARSED.get(digest)
    if seen is not None:
        return [(body, line) for body, line in json.loads(seen)], []
    fast = _load_fast(data)
    if fast is not None:
        _remember(digest, fast)
        return fast, []
    manifests: list[Manifest] = []
    errors: list[RunError] = []
    offset = 0  # lines before the current chunk
    chunk = data
    while chunk:
        resume = _load_chunk(chunk, file, offset, manifests, errors)
        if resume is None:
            break
        offset += chunk[:resume].count(b"\n")
        chunk = chunk[resume:]
    if not errors:
        _remember(digest, manifests)
    return manifests, errors


# Files parsed before, as JSON text: a check renders a commit and then walks its history, which reads
# the same blobs again; JSON parses several times faster than YAML and keeps the cache small.
_PARSED: dict[bytes, str] = {}
_PARSED_MAX_CHARS = 64 * 1024 * 1024
_parsed_chars = 0


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
        doc = json.loads(data, parse_int=_go_int)
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
    if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        return [(item, line) for item in doc["items"] if isinstance(item, dict)], []
    return [(doc, line)], []


# The fast path: whole files only, and only what it can type exactly as the ruamel path does.
_FAST_MAX_BYTES = MAX_NODES // 2  # fewer bytes than this cannot make MAX_NODES nodes without aliases
_FAST_MAX_DEPTH = 100  # far below MAX_DEPTH and the recursion limit; deeper files take the full path
_NOT_FAST = re.compile(rb"&|^%", re.MULTILINE)  # anchors (so aliases) and directives (of any document)
_FAST_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _tag, _regexp, _first in _IMPLICIT:
    for _ch in _first:
        _FAST_RESOLVERS.setdefault(_ch, []).append((_tag, _regexp))
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_DEFAULT_TAGS = {pyyaml.ScalarNode: _STR, pyyaml.SequenceNode: _SEQ, pyyaml.MappingNode: _MAP}
_BOOLS = {"yes": True, "no": False, "y": True, "n": False, "true": True, "false": False, "on": True,
          "off": False}


class _FastComposer(pyyaml.cyaml.CParser):
    """PyYAML's libyaml composer with plain scalars typed by the same rules as _KubeResolver."""

    def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
        if kind is pyyaml.ScalarNode and implicit[0] and value is not None:
            for tag, regexp in _FAST_RESOLVERS.get(value[:1], ()):
                if regexp.match(value):
                    return tag
        return _DEFAULT_TAGS[kind]

    def descend_resolver(self, parent: Any, index: Any) -> None:
        """No path-based resolvers: nothing to track while descending."""

    def ascend_resolver(self) -> None:
        """No path-based resolvers: nothing to track while ascending."""


class _NotFast(Exception):
    """Something the fast path leaves to the ruamel path."""


def _load_fast(data: bytes) -> list[Manifest] | None:
    """The file's objects if it holds only what the fast path types exactly as the ruamel path; else None."""
    if len(data) > _FAST_MAX_BYTES or _NOT_FAST.search(data) or _nesting_bound(data) > _C_SAFE_DEPTH_BOUND:
        return None
    out: list[Manifest] = []
    try:
        composer = _FastComposer(data)
        while composer.check_node():
            node = composer.get_node()
            if type(node) is not pyyaml.MappingNode:
                _value(node, 0)  # a scalar or list document is dropped, but must still be valid
                continue
            body = _value(node, 0)
            line = node.start_mark.line + 1
            if body.get("kind") == "List" and isinstance(body.get("items"), list):
                lines = _item_lines(node, 0)
                out.extend((item, lines[i] if i < len(lines) else line)
                           for i, item in enumerate(body["items"]) if isinstance(item, dict))
            else:
                out.append((body, line))
    except Exception:  # whatever it is, the ruamel path reports it as it always has
        return None
    return out


def _value(node: Any, depth: int) -> Any:
    """A node as a fresh plain value, typed as _PlainConstructor does; _NotFast for anything else."""
    if depth > _FAST_MAX_DEPTH:
        raise _NotFast
    kind, tag = type(node), node.tag
    if kind is pyyaml.ScalarNode:
        text = node.value
        if tag == _STR:
            return text
        if tag == _INT:
            return _go_int(text)
        if tag == _BOOL:
            return _BOOLS[text.lower()]
        if tag == _NULL:
            return None
        if tag == _FLOAT and ":" not in text:
            return _float(text)
    elif kind is pyyaml.MappingNode and tag == _MAP:
        out: dict[str, Any] = {}
        for key, value in node.value:
            if type(key) is not pyyaml.ScalarNode or key.tag != _STR or key.value in out:
                raise _NotFast  # non-string, merge or duplicate keys
            out[key.value] = _value(value, depth + 1)
        return out
    elif kind is pyyaml.SequenceNode and tag == _SEQ:
        return [_value(item, depth + 1) for item in node.value]
    raise _NotFast


def _float(text: str) -> float:
    """As ruamel's SafeConstructor.construct_yaml_float reads a float without a colon."""
    value = text.replace("_", "").lower()
    sign = -1 if value[0] == "-" else 1
    if value[0] in "+-":
        value = value[1:]
    if value == ".inf":
        return sign * float("inf")
    if value == ".nan":
        return float("nan")
    return sign * float(value)


_local = threading.local()


def _loader() -> YAML:
    """This thread's configured YAML instance (building one scans for plug-ins, ~0.25 ms each time)."""
    yaml: YAML | None = getattr(_local, "yaml", None)
    if yaml is None:
        yaml = _local.yaml = YAML(typ="safe")
        yaml.Constructor = _PlainConstructor
        yaml.Resolver = _KubeResolver
    return yaml


def _load_chunk(chunk: bytes, file: str, offset: int, out: list[Manifest],
                errors: list[RunError]) -> int | None:
    """Load documents from chunk; on a parse error, record it and return where to resume (or None)."""
    try:
        if _nesting_bound(chunk) > _C_SAFE_DEPTH_BOUND:
            _check_depth_by_events(chunk)
        constructor, _ = _loader().get_constructor_parser(io.BytesIO(chunk))
        composer = constructor.composer  # node by node, so each document keeps its start line
        while composer.check_node():
            node = composer.get_node()
            if node is None:
                continue
            line = offset + node.start_mark.line + 1
            body = _plain(constructor.construct_document(node))
            if not isinstance(body, dict):
                continue
            if body.get("kind") == "List" and isinstance(body.get("items"), list):
                lines = _item_lines(node, offset)
                out.extend((item, lines[i] if i < len(lines) else line)
                           for i, item in enumerate(body["items"]) if isinstance(item, dict))
            else:
                out.append((body, line))
        return None
    except MarkedYAMLError as e:
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


def _nesting_bound(chunk: bytes) -> int:
    """A cheap upper bound on nesting depth: flow brackets plus the longest line (block indentation)."""
    longest = max((len(line) for line in chunk.split(b"\n")), default=0)
    return chunk.count(b"[") + chunk.count(b"{") + longest


def _check_depth_by_events(chunk: bytes) -> None:
    """Walk parser events (iterative, no C recursion) and refuse documents nested beyond MAX_DEPTH."""
    depth = 0
    for event in YAML(typ="safe").parse(io.BytesIO(chunk)):
        name = type(event).__name__
        if name in ("MappingStartEvent", "SequenceStartEvent"):
            depth += 1
            if depth > MAX_DEPTH:
                raise RecursionError
        elif name in ("MappingEndEvent", "SequenceEndEvent"):
            depth -= 1


def _item_lines(node: Node | pyyaml.Node, offset: int) -> list[int]:
    """1-based lines of the entries of a `kind: List` document's `items` (ruamel or PyYAML nodes)."""
    if not isinstance(node, (MappingNode, pyyaml.MappingNode)):
        return []
    for key, value in node.value:
        if getattr(key, "value", None) == "items" and isinstance(value, (SequenceNode, pyyaml.SequenceNode)):
            return [offset + item.start_mark.line + 1 for item in value.value]
    return []


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
        return {_key(k): _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return obj.decode("latin-1")
    return obj


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if isinstance(k, float) and k.is_integer() and abs(k) < 1e21:
        return str(int(k))  # as Go formats a float key: 1e3 -> "1000"
    return "null" if k is None else str(k)


# Characters a literal block or a single-quoted scalar cannot carry as they are (control characters, and
# NEL/LS/PS, which a reader folds as line breaks): such strings are written double-quoted, escaped.
_NEEDS_ESCAPE = re.compile("[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _represent_str(representer: SafeRepresenter, data: str) -> Any:
    if _NEEDS_ESCAPE.search(data):
        style: str | None = '"'
    elif "\n" in data and data[0] not in " \t\n" and "\t" not in data \
            and not any(line != line.rstrip() for line in data.split("\n")):
        style = "|"  # readable configs and scripts; a leading blank or a tab would need an indent indicator
    else:
        style = None
    return representer.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def dump_yaml(body: dict[str, Any]) -> str:
    """One object as block YAML that kubectl reads back to the same JSON: keys in order, ambiguous strings
    quoted (yes, 0755, 1e3, dates), multi-line strings as literal blocks."""
    yaml = YAML(typ="safe", pure=True)  # the C emitter ignores a custom resolver
    yaml.Resolver = _DumpResolver
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.representer.sort_base_mapping_type_on_output = False
    yaml.representer.add_representer(str, _represent_str)
    out = io.StringIO()
    yaml.dump(body, out)
    return out.getvalue()
