"""ArgoCD's `directory.include`/`exclude` glob, matched in linear time (the globs come from Git)."""

from __future__ import annotations

from dataclasses import dataclass

# --- directory.include / directory.exclude ---
# ArgoCD matches them with gobwas/glob and no separators (reposerver findManifests): `*` and `**` span
# any characters, `/` included; `?` one character; `[abc]`, `[a-z]`, `[!…]`; `{a,b}` alternatives, nested;
# `\` escapes. A pattern gobwas cannot compile matches nothing. Matching here simulates all positions at
# once (a Thompson NFA), so time is linear in the name whatever the pattern: globs come from Git.

@dataclass(frozen=True)
class _Op:
    kind: str  # char | any | set | split | jump | match
    chars: str = ""  # char: the character; set: the listed characters, or lo+hi of a range
    negated: bool = False
    is_range: bool = False
    to: tuple[int, ...] = ()  # split/jump targets


class DirectoryGlob:
    """One ArgoCD directory glob, compiled once, matched in linear time."""

    def __init__(self, pattern: str) -> None:
        self.program: list[_Op] | None = _compile(pattern)

    def match(self, text: str) -> bool:
        """Whether the whole of text matches (never, for a pattern ArgoCD could not compile)."""
        if self.program is None:
            return False
        program = self.program
        states = _closure(program, {0})
        for ch in text:
            step = {i + 1 for i in states if _consumes(program[i], ch)}
            if not step:
                return False
            states = _closure(program, step)
        return any(program[i].kind == "match" for i in states)


def _consumes(op: _Op, ch: str) -> bool:
    if op.kind == "any":
        return True
    if op.kind == "char":
        return op.chars == ch
    if op.kind == "set":
        inside = op.chars[0] <= ch <= op.chars[1] if op.is_range else ch in op.chars
        return inside != op.negated
    return False


def _closure(program: list[_Op], states: set[int]) -> set[int]:
    """states and every instruction reachable from them without reading a character."""
    todo, seen = list(states), set()
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        if program[i].kind in ("split", "jump"):
            todo.extend(program[i].to)
    return {i for i in seen if program[i].kind not in ("split", "jump")}


class _GlobSyntaxError(Exception):
    pass


def _compile(pattern: str) -> list[_Op] | None:
    program: list[_Op] = []
    try:
        _sequence(pattern, 0, 0, program)
    except _GlobSyntaxError:
        return None
    program.append(_Op("match"))
    return program


def _sequence(pattern: str, i: int, depth: int, program: list[_Op]) -> int:
    """Compile pattern from i until its end, or (inside braces) a `,` or `}`; the position reached."""
    while i < len(pattern):
        ch = pattern[i]
        if depth and ch in ",}":
            return i
        if ch == "*":
            split = len(program)
            program += [_Op("split"), _Op("any"), _Op("jump", to=(split,))]
            program[split] = _Op("split", to=(split + 1, len(program)))
            i += 2 if pattern.startswith("**", i) else 1
        elif ch == "?":
            program.append(_Op("any"))
            i += 1
        elif ch == "[":
            i = _char_class(pattern, i + 1, program)
        elif ch == "{":
            i = _alternatives(pattern, i + 1, depth + 1, program)
        else:
            if ch == "\\":
                i += 1
                if i == len(pattern):
                    return i
            program.append(_Op("char", pattern[i]))
            i += 1
    return i


def _alternatives(pattern: str, i: int, depth: int, program: list[_Op]) -> int:
    """`{a,b,…}` from just after the `{`: a split to each branch, each jumping past the last. An
    unclosed brace ends with the pattern, as gobwas parses it."""
    jumps: list[int] = []
    while True:
        split = len(program)
        program.append(_Op("split"))
        i = _sequence(pattern, i, depth, program)
        jumps.append(len(program))
        program.append(_Op("jump"))
        program[split] = _Op("split", to=(split + 1, len(program)))
        if i < len(pattern) and pattern[i] == ",":
            i += 1
            continue
        break
    program.append(_Op("split", to=()))  # the last branch's "else": no alternative left
    end = len(program)
    for j in jumps:
        program[j] = _Op("jump", to=(end,))
    return i + 1 if i < len(pattern) else i


def _char_class(pattern: str, i: int, program: list[_Op]) -> int:
    """`[abc]`, `[a-z]`, `[!…]` from just after the `[` (gobwas: a list or one range, never both)."""
    negated = pattern.startswith("!", i)
    i += negated
    if i + 2 < len(pattern) and pattern[i + 1] == "-":
        lo, hi = pattern[i], pattern[i + 2]
        if hi < lo or not pattern.startswith("]", i + 3):
            raise _GlobSyntaxError
        program.append(_Op("set", lo + hi, negated, is_range=True))
        return i + 4
    chars = ""
    while i < len(pattern) and pattern[i] != "]":
        if pattern[i] == "\\" and i + 1 < len(pattern):
            i += 1
        chars += pattern[i]
        i += 1
    if i == len(pattern) or not chars:
        raise _GlobSyntaxError
    program.append(_Op("set", chars, negated))
    return i + 1


# --- spec.source.kustomize ---

# --- spec.source.kustomize ---
