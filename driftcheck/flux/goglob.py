"""The two glob dialects source-watcher's artifact builder uses, matched without backtracking blow-ups.

- Go's `path.Match` / `io/fs.Glob` (the `from` of an Overwrite or Merge copy): `*` and `?` stay inside
  one path element, so `dir/**` is `dir/*`; `[^…]` negates; a malformed pattern anywhere is
  `syntax error in pattern`; `fs.Glob` reads each directory in name order.
- bmatcuk/doublestar v4's `Match` / `Glob` (every `exclude`, and the `from` of an Extract copy): a `**`
  element is zero or more elements, `/**` at the end also matches the directory itself, `{a,b}`
  alternatives, `[!…]` or `[^…]`.

Patterns come from Git: matching simulates every pattern position at once, so its time is linear in
the name whatever the pattern, and `{…}` expansions are capped.
"""

from __future__ import annotations

import itertools
import os
import posixpath
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MAX_ALTERNATIVES = 256


class BadPattern(ValueError):
    """Go's `path.ErrBadPattern` / doublestar's `ErrBadPattern`."""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


@dataclass(frozen=True)
class _Tok:
    kind: str  # lit | any | cls | star | dirs ("**/": zero or more elements) | rest | optrest ("/**" end)
    ranges: tuple[tuple[str, str], ...] = ()  # lit: ((c, c),); cls: the listed ranges
    negated: bool = False


def _class(pattern: str, i: int, negations: str, go: bool) -> tuple[_Tok, int]:
    """The character class opening at pattern[i] ('['); the token and the index after ']'."""
    i += 1
    negated = i < len(pattern) and pattern[i] in negations
    i += negated
    ranges: list[tuple[str, str]] = []
    while True:
        if i >= len(pattern):
            raise BadPattern
        if pattern[i] == "]" and ranges:
            return _Tok("cls", tuple(ranges), negated), i + 1
        if go and pattern[i] in "-]":
            raise BadPattern
        if not go and pattern[i] == "]":
            raise BadPattern  # doublestar: an empty class
        lo, i = _escaped(pattern, i)
        hi = lo
        ranged = i + 1 < len(pattern) and (go or pattern[i + 1] != "]")
        if i < len(pattern) and pattern[i] == "-" and (go or ranged):
            if go and i + 1 < len(pattern) and pattern[i + 1] in "-]":
                raise BadPattern
            hi, i = _escaped(pattern, i + 1)
        ranges.append((lo, hi))


def _escaped(pattern: str, i: int) -> tuple[str, int]:
    if i < len(pattern) and pattern[i] == "\\":
        i += 1
    if i >= len(pattern):
        raise BadPattern
    return pattern[i], i + 1


@cache
def _go_tokens(pattern: str) -> tuple[_Tok, ...]:
    out: list[_Tok] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(_Tok("star"))
            i += 1
        elif c == "?":
            out.append(_Tok("any"))
            i += 1
        elif c == "[":
            tok, i = _class(pattern, i, "^", go=True)
            out.append(tok)
        else:
            ch, i = _escaped(pattern, i)
            out.append(_Tok("lit", ((ch, ch),)))
    return tuple(out)


@cache
def _doublestar_tokens(pattern: str) -> tuple[_Tok, ...]:
    out: list[_Tok] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        start = i == 0 or pattern[i - 1] == "/"
        if c == "*":
            if pattern.startswith("**", i) and start and i + 2 == n:
                if out and out[-1] == _Tok("lit", (("/", "/"),)):
                    out[-1] = _Tok("optrest")
                else:
                    out.append(_Tok("rest"))
                i += 2
            elif pattern.startswith("**/", i) and start:
                out.append(_Tok("dirs"))
                i += 3
            else:
                while i < n and pattern[i] == "*":
                    i += 1
                out.append(_Tok("star"))
        elif c == "?":
            out.append(_Tok("any"))
            i += 1
        elif c == "[":
            tok, i = _class(pattern, i, "!^", go=False)
            out.append(tok)
        else:
            ch, i = _escaped(pattern, i)
            out.append(_Tok("lit", ((ch, ch),)))
    return tuple(out)


def _matches(tokens: tuple[_Tok, ...], name: str) -> bool:
    """Every position of the pattern simulated at once over name (a Thompson NFA): linear in name."""
    end = len(tokens)
    states = _closure(tokens, {0})
    for ch in name:
        if _ALL in states:
            return True
        after: set[int] = set()
        for t in states:
            if t < _ALL:  # inside the elements a `**/` skips: any character; a `/` may end them
                after.add(t)
                if ch == "/":
                    after.add(-t - 2 + 1)
                continue
            if t in (end, _ALL):
                continue
            tok = tokens[t]
            if tok.kind == "star":
                if ch != "/":
                    after.add(t)
            elif tok.kind == "rest" or (tok.kind == "optrest" and ch == "/"):
                after.add(_ALL)
            elif tok.kind == "any":
                if ch != "/":
                    after.add(t + 1)
            elif tok.kind in ("lit", "cls") and any(lo <= ch <= hi for lo, hi in tok.ranges) != tok.negated:
                after.add(t + 1)
        states = _closure(tokens, after)
        if not states:
            return False
    return _ALL in states or any(t == end or (0 <= t < end and tokens[t].kind in ("rest", "optrest"))
                                 for t in states)


_ALL = -1  # past a `**` that ends the pattern: whatever follows matches


def _closure(tokens: tuple[_Tok, ...], states: set[int]) -> set[int]:
    """states with every position reachable without consuming a character: past a `*` (it may match
    nothing) and past a `**/` (zero elements), which is also entered (state -t-2, its elements)."""
    out, todo = set(states), list(states)
    while todo:
        t = todo.pop()
        if 0 <= t < len(tokens) and tokens[t].kind in ("star", "dirs"):
            reached = {t + 1} | ({-t - 2} if tokens[t].kind == "dirs" else set())
            todo += [r for r in reached if r not in out]
            out |= reached
    return out


def go_match(pattern: str, name: str) -> bool:
    """Go's path.Match; BadPattern when the pattern is malformed anywhere."""
    return _matches(_go_tokens(pattern), name)


@cache
def _alternatives(pattern: str) -> tuple[str, ...]:
    """pattern with its `{a,b}` groups expanded (nested, `\\` escapes kept); BadPattern when unclosed."""
    i, depth, open_at = 0, 0, -1
    commas: list[int] = []
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            if depth == 0:
                open_at, commas = i, []
            depth += 1
        elif c == "," and depth == 1:
            commas.append(i)
        elif c == "}" and depth:
            depth -= 1
            if depth == 0:
                bounds = [open_at, *commas, i]
                head, tail = pattern[:open_at], pattern[i + 1:]
                out: tuple[str, ...] = ()
                for a, b in itertools.pairwise(bounds):
                    out += _alternatives(head + pattern[a + 1:b] + tail)
                    if len(out) > MAX_ALTERNATIVES:
                        raise BadPattern
                return out
        i += 1
    if depth:
        raise BadPattern
    return (pattern,)


def doublestar_validate(pattern: str) -> None:
    """BadPattern unless doublestar v4 accepts pattern."""
    for alternative in _alternatives(pattern):
        _doublestar_tokens(alternative)


def doublestar_match(pattern: str, name: str) -> bool:
    """doublestar v4's Match (separator `/`); BadPattern when malformed."""
    return any(_matches(_doublestar_tokens(a), name) for a in _alternatives(pattern))


def _valid(name: str) -> bool:
    """io/fs.ValidPath: unrooted, slash-separated, no empty, `.` or `..` element (but `.` itself)."""
    return name == "." or (bool(name) and all(e not in ("", ".", "..") for e in name.split("/")))


def _stat(root: Path, name: str) -> Path | None:
    if not _valid(name):
        return None
    path = root / name
    return path if path.exists() and not path.is_symlink() else None


def fs_glob(root: Path, pattern: str) -> list[str]:
    """io/fs.Glob over the directory root: matched paths relative to it, each directory in name order."""
    go_match(pattern, "")  # validates the whole pattern first, as fs.Glob does
    return _glob(root, pattern, 0)


def _glob(root: Path, pattern: str, depth: int) -> list[str]:
    if not any(c in pattern for c in "*?[\\"):
        return [pattern] if _stat(root, pattern) else []
    slash = pattern.rfind("/")
    directory, file = pattern[:slash + 1], pattern[slash + 1:]
    directory = directory[:-1] if directory else "."  # path.Split keeps the slash; cleanGlobPath chops it
    if not any(c in directory for c in "*?[\\"):
        return _glob_dir(root, directory, file)
    if directory == pattern or depth > 64:
        raise BadPattern
    return [m for d in _glob(root, directory, depth + 1) for m in _glob_dir(root, d, file)]


def _glob_dir(root: Path, directory: str, file: str) -> list[str]:
    path = _stat(root, directory)
    if path is None or not path.is_dir():
        return []
    tokens = _go_tokens(file)
    return [posixpath.normpath(posixpath.join(directory, n)) for n in sorted(os.listdir(path))
            if _matches(tokens, n)]


def doublestar_glob(root: Path, pattern: str) -> list[str]:
    """doublestar v4's Glob over root: every file and directory (`.` for the root) whose path matches."""
    doublestar_validate(pattern)
    found = ["."] if pattern.startswith("**") and doublestar_match(pattern, ".") else []
    for directory, names, files in os.walk(root):
        names.sort()
        relative = os.path.relpath(directory, root)
        for name in sorted(names + files):
            path = name if relative == "." else f"{relative}/{name}"
            if not (Path(directory) / name).is_symlink() and doublestar_match(pattern, path):
                found.append(path)
    return found
