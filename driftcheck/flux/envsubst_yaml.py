"""One object as the YAML text Flux's envsubst reads: kustomize's `AsYAML` (sigs.k8s.io/yaml's
`JSONToYAML`, so go-yaml v2's encoder), reproduced where substitution can tell.

What decides the type a substituted value takes is the style each string is written in: go-yaml v2
writes a string plain when it reads back as a string (`${PORT}` is plain, so `8080` comes back an
integer), double-quoted when it would read as another type (`"8080"`, `"yes"`, `""`), single-quoted
when plain would misparse (`'a: b'`, leading or trailing spaces), as a literal block when it has a line
break, and escapes what is not printable. Keys are sorted in go-yaml v2's natural order (`a2` < `a10`).
Long lines are not folded at 80 columns as go-yaml does: folding reads back the same, and differs only
for an expression with a blank in its argument past column 80.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cmp_to_key
from typing import Any

from driftcheck.render.yaml import dialect

_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?\Z", re.DOTALL)
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z")
_BREAKS = "\n\r\x85\u2028\u2029"
_ESCAPES = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r",
            "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P"}
_SIMPLE_KEY_MAX = 128


def to_yaml(obj: dict[str, Any]) -> str:
    """The block YAML go-yaml v2 writes for a JSON object."""
    if not obj:
        return "{}\n"
    out: list[str] = []
    _mapping(out, obj, 0, "")
    return "\n".join(out) + "\n"


def _mapping(out: list[str], obj: dict[str, Any], indent: int, lead: str) -> None:
    for i, key in enumerate(sorted(obj, key=cmp_to_key(_key_order))):
        start = lead if i == 0 else " " * indent
        text, _ = _scalar(key, simple_key=len(key.encode()) <= _SIMPLE_KEY_MAX)
        if len(key.encode()) > _SIMPLE_KEY_MAX:
            out.append(f"{start}? {text}")
            start = " " * indent
            text = ""
        _entry(out, f"{start}{text}:", obj[key], indent)


def _entry(out: list[str], head: str, value: Any, indent: int) -> None:
    if isinstance(value, dict) and value:
        out.append(head)
        _mapping(out, value, indent + 2, " " * (indent + 2))
    elif isinstance(value, list) and value:
        out.append(head)
        _sequence(out, value, indent, " " * indent)  # go-yaml v2 does not indent a list under its key
    else:
        _scalar_line(out, head + " ", value, indent + 2)


def _sequence(out: list[str], items: list[Any], indent: int, lead: str) -> None:
    for i, item in enumerate(items):
        start = (lead if i == 0 else " " * indent) + "- "
        if isinstance(item, dict) and item:
            _mapping(out, item, indent + 2, start)
        elif isinstance(item, list) and item:
            _sequence(out, item, indent + 2, start)
        else:
            _scalar_line(out, start, item, indent + 2)


def _scalar_line(out: list[str], head: str, value: Any, content_indent: int) -> None:
    if isinstance(value, dict):
        out.append(head + "{}")
    elif isinstance(value, list):
        out.append(head + "[]")
    elif isinstance(value, str):
        text, literal = _scalar(value, simple_key=False)
        out.append(head + text)
        if literal:
            out.extend(_literal_lines(value, content_indent))
    else:
        out.append(head + _plain_value(value))


def _plain_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_float(value: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64) with go-yaml's .inf/.nan; a whole float is written as an
    integer ("3"), which is why go-yaml reads it back as one."""
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    sign, digits, exp = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exp)
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        x = point - 1
        body = f"{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    elif point <= 0:
        body = "0." + "0" * -point + text
    elif point >= len(text):
        body = text + "0" * (point - len(text))
    else:
        body = text[:point] + "." + text[point:]
    return ("-" if sign else "") + body


def _resolves_to_string(s: str) -> bool:
    return dialect.plain_tag(s) == dialect.STR and not _TIMESTAMP.match(s) and not _BASE60.match(s)


def _printable(c: str) -> bool:
    """libyaml's is_printable, as go-yaml v2 applies it (tab, DEL, C1 and astral characters are not)."""
    o = ord(c)
    return (o == 0x0A or 0x20 <= o <= 0x7E or 0xA0 <= o <= 0xD7FF
            or (0xE000 <= o <= 0xFFFD and o != 0xFEFF))


def _scalar(s: str, simple_key: bool) -> tuple[str, bool]:
    """(the scalar's text, whether it is a literal block header whose lines follow)."""
    if "\n" in s:
        style = "|"
    elif _resolves_to_string(s):
        style = "plain"
    else:
        style = '"'
    plain_ok, single_ok, block_ok, multiline = _analyze(s)
    if simple_key and multiline:
        style = '"'
    if style == "plain" and (not plain_ok or (simple_key and not s)):
        style = "'"
    if style == "'" and (not single_ok or any(c in s for c in "\u2028\u2029")):
        style = '"'  # a break in a single-quoted scalar folds differently across readers
    if style == "|" and (not block_ok or simple_key):
        style = '"'
    if style == "plain":
        return s, False
    if style == "'":
        return "'" + s.replace("'", "''") + "'", False
    if style == '"':
        return '"' + "".join(_escape(c) for c in s) + '"', False
    return _literal_header(s), True


def _escape(c: str) -> str:
    if _printable(c) and c not in _BREAKS and c not in '"\\':
        return c
    if c in _ESCAPES:
        return "\\" + _ESCAPES[c]
    o = ord(c)
    return f"\\x{o:02X}" if o <= 0xFF else f"\\u{o:04X}" if o <= 0xFFFF else f"\\U{o:08X}"


def _analyze(s: str) -> tuple[bool, bool, bool, bool]:
    """libyaml's yaml_emitter_analyze_scalar, for block context: (plain, single-quoted, block allowed,
    multiline)."""
    if not s:
        return True, True, False, False
    block_indicators = s.startswith(("---", "..."))
    line_breaks = special = space_break = break_space = False
    preceded_by_blank, previous_space, previous_break = True, False, False
    for i, c in enumerate(s):
        followed_by_blank = i + 1 >= len(s) or s[i + 1] in " \t"
        if i == 0:
            if c in "#,[]{}&*!|>'\"%@`" or (c in "?:-" and followed_by_blank):
                block_indicators = True
        elif (c == ":" and followed_by_blank) or (c == "#" and preceded_by_blank):
            block_indicators = True
        if not _printable(c):
            special = True
        if c == " ":
            break_space = break_space or previous_break
            previous_space, previous_break = True, False
        elif c in _BREAKS:
            line_breaks = True
            space_break = space_break or previous_space
            previous_space, previous_break = False, True
        else:
            previous_space = previous_break = False
        preceded_by_blank = c in " \t\0" or c in _BREAKS
    edges = s[0] == " " or s[0] in _BREAKS or s[-1] == " " or s[-1] in _BREAKS
    plain = not (edges or break_space or space_break or special or line_breaks or block_indicators)
    single = not (break_space or space_break or special)
    block = not (s[-1] == " " or space_break or special)
    return plain, single, block, line_breaks


def _literal_header(s: str) -> str:
    indent = "2" if s[0] == " " or s[0] in _BREAKS else ""
    if s[-1] not in _BREAKS:
        chomp = "-"
    elif len(s) == 1 or s[-2] in _BREAKS:
        chomp = "+"
    else:
        chomp = ""
    return "|" + indent + chomp


def _literal_lines(s: str, indent: int) -> list[str]:
    body = s[:-1] if s[-1] in _BREAKS else s
    return [(" " * indent + line) if line else "" for line in re.split("[\n\r\x85\u2028\u2029]", body)]


def _key_order(a: str, b: str) -> int:
    """go-yaml v2's keyList.Less for two string keys, as a comparison."""
    return -1 if _key_less(a, b) else 1 if _key_less(b, a) else 0


def _key_less(a: str, b: str) -> bool:
    for i in range(min(len(a), len(b))):
        if a[i] == b[i]:
            continue
        al, bl = a[i].isalpha(), b[i].isalpha()
        if al and bl:
            return a[i] < b[i]
        if al or bl:
            return bl
        an = bn = 0
        if a[i] == "0" or b[i] == "0":
            j = i - 1
            while j >= 0 and a[j].isdecimal():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdecimal():
            an = an * 10 + ord(a[ai]) - 48
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdecimal():
            bn = bn * 10 + ord(b[bi]) - 48
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return a[i] < b[i]
    return len(a) < len(b)
