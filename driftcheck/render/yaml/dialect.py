"""The Kubernetes YAML dialect: how a plain scalar is typed, and how numbers, keys and strings reach JSON.

Kubernetes reads YAML by sigs.k8s.io/yaml rules: go-yaml v2 types each plain scalar, the value becomes
JSON, and apimachinery decodes that JSON. So YAML 1.1 booleans (y/n/yes/no/on/off) and octal (0755) hold,
but there are no sexagesimal numbers (12:30 stays a string) and dates stay strings; a float that JSON
writes without a fraction (1e3, 1.0) is read back as an integer. Every loader of this package, and so
Git, snapshots and config files alike, types by this table.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

STR, INT, FLOAT, BOOL, NULL, MERGE, TIMESTAMP, MAP, SEQ = (
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "merge", "timestamp", "map",
                                       "seq"))

# (tag, regular expression, the characters a match can start with), in the order they are tried.
IMPLICIT: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (tag, re.compile(regexp), (*first, "") if tag == NULL else tuple(first)) for tag, regexp, first in (
        (BOOL, r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
         "yYnNtTfFoO"),
        (INT, r"^(?:[-+]?0b[0-1_]+|[-+]?0o[0-7_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)"
              r"|[-+]?0x[0-9a-fA-F_]+)$",
         "-+0123456789"),
        (FLOAT, r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
        (MERGE, r"^(?:<<)$", "<"),
        (NULL, r"^(?:~|null|Null|NULL|)$", "~nN"),
    ))
_BY_FIRST: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _tag, _regexp, _first in IMPLICIT:
    for _ch in _first:
        _BY_FIRST.setdefault(_ch, []).append((_tag, _regexp))

BOOLS = {"yes": True, "no": False, "y": True, "n": False, "true": True, "false": False, "on": True,
         "off": False}
_FLOAT_MAX = int(sys.float_info.max)
_MAX_INT_CHARS = 1100  # a binary literal of float64's range; anything longer is out of range anyway
_INT64 = 2**63
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class OutOfRange(ValueError):
    """An integer no Kubernetes decoder reads: beyond float64, which is past int64 where it falls back."""

    def __init__(self, digits: int, line: int = 0) -> None:
        super().__init__(f"integer of {digits} digits is out of range (Kubernetes reads numbers as "
                         "64-bit integers or floats)")
        self.line = line


def plain_tag(value: str) -> str:
    """The tag of an untagged plain scalar."""
    for tag, regexp in _BY_FIRST.get(value[:1], ()):
        if regexp.match(value):
            return tag
    return STR


def go_int(text: str) -> int:
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


def go_float(text: str) -> float | int | str:
    """A float scalar as Kubernetes holds it: one JSON writes without a fraction (1e3) is an integer, and
    one beyond float64 (1e999) stays the string go-yaml leaves it."""
    value = text.replace("_", "").lower()
    sign = -1 if value[0] == "-" else 1
    if value[0] in "+-":
        value = value[1:]
    if value == ".inf":
        return sign * float("inf")
    if value == ".nan":
        return float("nan")
    number = float(value)
    return text if number == float("inf") else json_number(sign * number)  # 1e999: Go's ParseFloat fails


def json_number(value: float) -> float | int:
    """A float as apimachinery reads it back from Go's JSON: integral within int64 -> int."""
    if value.is_integer() and -_INT64 <= value < _INT64:
        return int(value)
    return value


def key_text(key: Any) -> str:
    """A non-string mapping key as sigs.k8s.io/yaml writes it into JSON (1e3 -> "1000", true -> "true")."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float) and key.is_integer() and abs(key) < 1e21:
        return str(int(key))
    return "null" if key is None else str(key)


def decode_json(data: str | bytes) -> Any:
    """JSON as Kubernetes decodes it: 64-bit numbers (1.0 is 1), a lone surrogate escape becomes U+FFFD."""
    doc = json.loads(data, parse_int=_json_int, parse_float=_json_float)
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    return _replace_surrogates(doc) if _SURROGATE_ESCAPE.search(raw) else doc


def _json_int(text: str) -> int:
    return int(text) if len(text) < 300 else go_int(text)  # float64's range has 309 digits


def _json_float(text: str) -> float | int:
    return json_number(float(text))


def _replace_surrogates(value: Any) -> Any:
    """Go's JSON decoder replaces a surrogate that is not half of a pair with U+FFFD; Python keeps it."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    return value


def is_list(body: dict[str, Any]) -> bool:
    """ArgoCD flattens any object whose `items` is a list (unstructured IsList), whatever its kind."""
    return isinstance(body.get("items"), list)


def is_null_list(body: dict[str, Any]) -> bool:
    """A `*List` with `items: null` renders to nothing in ArgoCD (`isNullList`)."""
    return str(body.get("kind") or "").endswith("List") and "items" in body and body["items"] is None
