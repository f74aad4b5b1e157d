"""Flux's envsubst operators (fluxcd/pkg `envsubst/funcs.go`, `path/match.go`, `template.go`) on bytes.

Go strings are bytes, and Flux's operators count and cut them so: `${#v}` is a length in bytes, a
substring can split a character, and the trim operators try every byte prefix against a glob in which
`*` and `?` match `/` too. Every unknown operator is the default one (`${v:+x}` is `${v:-x}`), and
only the default operators tolerate an unset variable in strict mode.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from driftcheck.flux.envsubst_parse import Func, Node, Sequence, Text, decode_rune

Lookup = Callable[[bytes], tuple[bytes, bool]]  # name -> (value, whether it is set)
_DEFAULT_OPS = {b"-", b"+", b"=", b"?", b":-", b":+", b":=", b":?"}
_ATOI = re.compile(rb"[+-]?[0-9]+\Z")
_INT64 = 2**63


class EvalError(ValueError):
    """A failure while substituting; `variable` names the unset variable of a strict-mode failure."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


def evaluate(node: Node, lookup: Lookup) -> bytes:
    """The text a parse tree expands to (Template.Execute)."""
    if isinstance(node, Text):
        return node.value
    if isinstance(node, Sequence):
        return b"".join(evaluate(n, lookup) for n in node.nodes)
    args = [evaluate(a, lookup) for a in node.args]  # arguments first: their errors win, as in Flux
    value, exists = lookup(node.param)
    if not exists and node.name not in _DEFAULT_OPS:
        name = node.param.decode("utf-8", "replace")
        raise EvalError(f'variable not set (strict mode): "{_go_quote(name)}"', name)
    return _apply(node, value, args)


def _go_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _apply(node: Func, s: bytes, args: list[bytes]) -> bytes:
    name = node.name
    if name == b",":
        return _first_rune(s, _lower)
    if name == b",,":
        return _map_runes(s, _lower)
    if name == b"^":
        return _first_rune(s, _upper)
    if name == b"^^":
        return _map_runes(s, _upper)
    if name == b"#":
        return str(len(s)).encode() if not args else _trim_shortest(s, args[0])
    if name == b"##":
        return _trim_longest(s, args[0]) if args else s
    if name in (b"%", b"%%"):
        if not args:
            return s
        trim = _trim_shortest if name == b"%" else _trim_longest
        return _reverse(trim(_reverse(s), _reverse(args[0])))
    if name == b":":
        return _substr(s, args)
    if name == b"/#":
        return _go_replace(s, args[0], args[1], 1) if len(args) == 2 and s.startswith(args[0]) else s
    if name == b"/%":
        return s[:len(s) - len(args[0])] + args[1] if len(args) == 2 and s.endswith(args[0]) else s
    if name in (b"/", b"//"):
        if not args:
            return s
        return _go_replace(s, args[0], args[1] if len(args) > 1 else b"", 1 if name == b"/" else -1)
    return s if s or not args else b"".join(args)  # toDefault


def _go_replace(s: bytes, old: bytes, new: bytes, count: int) -> bytes:
    """strings.Replace: an empty `old` matches before each rune (not each byte) and at the end."""
    if old:
        return s.replace(old, new, count)
    pieces, i = [], 0
    while i < len(s) and count != 0:
        _, width = decode_rune(s, i)
        pieces += [new, s[i:i + width]]
        i, count = i + width, count - 1
    if count != 0:
        pieces.append(new)
    return b"".join(pieces) + s[i:]


def _runes(s: bytes) -> list[int]:
    out, i = [], 0
    while i < len(s):
        r, w = decode_rune(s, i)
        out.append(r)
        i += w
    return out


def _encode(runes: list[int]) -> bytes:
    return "".join(map(chr, runes)).encode("utf-8", "surrogatepass")


def _simple(r: int, mapped: str) -> int:
    """Go maps one rune to one rune (unicode.ToUpper); Python's full mapping may give several."""
    return ord(mapped) if len(mapped) == 1 else r


def _upper(r: int) -> int:
    return _simple(r, chr(r).upper())


def _lower(r: int) -> int:
    return _simple(r, chr(r).lower())


def _map_runes(s: bytes, fn: Callable[[int], int]) -> bytes:
    return _encode([fn(r) for r in _runes(s)])


def _first_rune(s: bytes, fn: Callable[[int], int]) -> bytes:
    if not s:
        return s
    r, width = decode_rune(s, 0)
    return _encode([fn(r)]) + s[width:]


def _reverse(s: bytes) -> bytes:
    """Reversed by runes; invalid bytes become U+FFFD as Go's []rune conversion makes them."""
    return _encode(_runes(s)[::-1])


def _atoi(text: bytes) -> int | None:
    """strconv.Atoi: an optional sign and decimal digits within int64, else None."""
    if not _ATOI.match(text):
        return None
    value = int(text)
    return value if -_INT64 <= value < _INT64 else None


def _substr(s: bytes, args: list[bytes]) -> bytes:
    pos = _atoi(args[0]) if args else None
    if pos is None:
        return s  # bash returns the value when the offset is not a number
    if pos < 0:
        pos = max(len(s) + pos, 0)
    if len(args) == 1:
        return s[pos:]
    length = _atoi(args[1])
    if length is None:
        return s
    if pos + length >= len(s):
        return s[pos:]
    if length < 0:
        raise EvalError(f"substring length {length} is negative: Flux's controller panics "
                        "(slice bounds out of range)")
    return s[pos:pos + length]


def _trim_shortest(s: bytes, pattern: bytes) -> bytes:
    shortest = b""
    for i in range(len(s)):
        matched = match(pattern, s[:len(s) - i])
        if matched is None:
            return s
        if matched:
            shortest = s[:len(s) - i]
    return s[len(shortest):] if shortest else s


def _trim_longest(s: bytes, pattern: bytes) -> bytes:
    for i in range(len(s)):
        matched = match(pattern, s[:len(s) - i])
        if matched is None:
            return s
        if matched:
            return s[len(s) - i:]
    return s


def match(pattern: bytes, name: bytes) -> bool | None:
    """Flux's `path.Match`: the whole name against a glob; None for a malformed pattern.

    Unlike Go's path.Match, `*` matches `/`, and a trailing `*` matches the rest at once.
    """
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return True
        rest, ok, bad = _match_chunk(chunk, name)
        if ok and (not rest or pattern):
            name = rest
            continue
        if bad:
            return None
        if star:
            for i in range(len(name)):
                rest, ok, bad = _match_chunk(chunk, name[i + 1:])
                if ok:
                    if not pattern and rest:
                        continue
                    name = rest
                    break
                if bad:
                    return None
            else:
                return False
            continue
        return False
    return not name


def _scan_chunk(pattern: bytes) -> tuple[bool, bytes, bytes]:
    star = False
    while pattern[:1] == b"*":
        pattern, star = pattern[1:], True
    in_range, i = False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == ord("\\"):
            if i + 1 < len(pattern):
                i += 1
        elif c == ord("["):
            in_range = True
        elif c == ord("]"):
            in_range = False
        elif c == ord("*") and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: bytes, s: bytes) -> tuple[bytes, bool, bool]:
    """(the rest of s, matched, bad pattern) for a star-free chunk at the start of s."""
    while chunk:
        if not s:
            return b"", False, False
        c = chunk[0]
        if c == ord("["):
            r, width = decode_rune(s, 0)
            s, chunk = s[width:], chunk[1:]
            negated = chunk[:1] == b"^"
            if negated:
                chunk = chunk[1:]
            matched, ranges = False, 0
            while True:
                if chunk[:1] == b"]" and ranges > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk, bad = _get_esc(chunk)
                if bad:
                    return b"", False, True
                hi = lo
                if chunk[:1] == b"-":
                    hi, chunk, bad = _get_esc(chunk[1:])
                    if bad:
                        return b"", False, True
                matched = matched or lo <= r <= hi
                ranges += 1
            if matched == negated:
                return b"", False, False
            continue
        if c == ord("?"):
            _, width = decode_rune(s, 0)
            s, chunk = s[width:], chunk[1:]
            continue
        if c == ord("\\"):
            chunk = chunk[1:]
            if not chunk:
                return b"", False, True
        if chunk[0] != s[0]:
            return b"", False, False
        s, chunk = s[1:], chunk[1:]
    return s, True, False


def _get_esc(chunk: bytes) -> tuple[int, bytes, bool]:
    """A possibly escaped character of a class: (rune, the rest, bad pattern)."""
    if not chunk or chunk[0] in (ord("-"), ord("]")):
        return 0, chunk, True
    if chunk[0] == ord("\\"):
        chunk = chunk[1:]
        if not chunk:
            return 0, chunk, True
    r, width = decode_rune(chunk, 0)
    rest = chunk[width:]
    return r, rest, (r == 0xFFFD and width == 1) or not rest
