"""Semantic versions and version constraints exactly as ArgoCD and Helm read them (Masterminds/semver v3.4).

ArgoCD resolves a Git `targetRevision` or a chart version that is a constraint ("^1.2", ">=1 <2", "1.x",
"1.2 - 1.4.5", "~1 || ^3") to the highest matching tag (`util/versions/tags.go` `MaxVersion`); an exact
version ("1.2.3", "v1.2") is a pin, not a range. The rules copied from Masterminds: a leading `v` is
optional, missing or `x`/`X`/`*` parts are wildcards, and a prerelease version only matches an AND group
that itself names a prerelease. `tagPrefix` (ArgoCD 3.5+, `spec.source.tagPrefix`) filters tags to those
with the prefix and strips it before comparing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from driftcheck.model import DriftcheckError

_UINT64_MAX = 2 ** 64 - 1
_WS = r"[ \t\n\f\r]"  # Go's \s: Python's would also take Unicode spaces
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"  # order matters: first alternative that lets the rest match wins
_CV = (r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
       r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")
_LOOSE_VERSION = re.compile(r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
                            r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")
_ONE = re.compile(rf"{_WS}*({_OPS}){_WS}*({_CV}){_WS}*")
_FIND = re.compile(rf"({_OPS}){_WS}*({_CV})")
_RANGE = re.compile(rf"{_WS}*({_CV}){_WS}+-{_WS}+({_CV}){_WS}*")
# Masterminds' segment check, with possessive whitespace so hostile input cannot backtrack for long.
_VALID = re.compile(rf"{_WS}*+(?:{_OPS}){_WS}*+{_CV}"
                    rf"(?:(?:{_WS}++|{_WS}*+,{_WS}*+)(?:{_OPS}){_WS}*+{_CV})*+{_WS}*+")
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")


class SemverError(DriftcheckError):
    """Not a version or not a constraint; the message quotes the text."""


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: str
    original: str

    def compare(self, other: Version) -> int:
        """-1, 0 or 1; build metadata is ignored and a release sorts after its prereleases."""
        for mine, theirs in ((self.major, other.major), (self.minor, other.minor), (self.patch, other.patch)):
            if mine != theirs:
                return 1 if mine > theirs else -1
        if self.pre == other.pre:
            return 0
        if not self.pre or not other.pre:
            return 1 if not self.pre else -1
        return _compare_prerelease(self.pre, other.pre)


def _compare_prerelease(a: str, b: str) -> int:
    left, right = a.split("."), b.split(".")
    for i in range(max(len(left), len(right))):
        s = left[i] if i < len(left) else ""
        o = right[i] if i < len(right) else ""
        if s == o:
            continue
        if not s or not o:
            return -1 if not s else 1
        s_num, o_num = s.isdigit(), o.isdigit()
        if s_num and o_num:
            return 1 if int(s) > int(o) else -1
        if s_num != o_num:
            return -1 if s_num else 1  # numeric identifiers sort before alphanumeric ones
        return 1 if s > o else -1
    return 0


def parse_version(text: str) -> Version:
    """Masterminds' `NewVersion` (coercing): "1", "v1.2", "1.2.3-rc.1+build" are versions."""
    m = _LOOSE_VERSION.fullmatch(text)
    if m is None:
        raise SemverError(f"invalid semantic version: {text!r}")
    parts = [m.group(1), (m.group(2) or ".0")[1:], (m.group(3) or ".0")[1:]]
    numbers = [int(p) for p in parts]
    if any(n > _UINT64_MAX for n in numbers):
        raise SemverError(f"version segment out of range: {text!r}")
    pre, meta = m.group(5) or "", m.group(8) or ""
    for ident in pre.split(".") if pre else ():
        if ident.isdigit() and len(ident) > 1 and ident[0] == "0":
            raise SemverError(f"prerelease segment starts with 0: {text!r}")
        if not ident or not set(ident) <= _ALLOWED:
            raise SemverError(f"invalid prerelease: {text!r}")
    if meta and any(not ident or not set(ident) <= _ALLOWED for ident in meta.split(".")):
        raise SemverError(f"invalid metadata: {text!r}")
    return Version(numbers[0], numbers[1], numbers[2], pre, text)


def _is_x(part: str) -> bool:
    return part in ("x", "X", "*")


@dataclass(frozen=True)
class _Constraint:
    op: str
    con: Version
    dirty: bool          # some part is missing or a wildcard
    minor_dirty: bool    # "1", "1.x"
    patch_dirty: bool    # "1.2", "1.2.x"

    def check(self, v: Version, include_pre: bool) -> bool:
        if v.pre and not include_pre:
            return False
        return _CHECKS[self.op](self, v)


def _parse_one(text: str) -> _Constraint:
    m = _ONE.fullmatch(text)
    if m is None:
        raise SemverError(f"improper constraint: {text!r}")
    op, version, major, minor, patch = m.group(1, 2, 3, 4, 5)
    pre = m.group(6) or ""
    minor_dirty = patch_dirty = False
    if _is_x(major):
        version, dirty = f"0.0.0{pre}", True
    elif minor is None or _is_x(minor[1:]):
        version, dirty, minor_dirty = f"{major}.0.0{pre}", True, True
    elif patch is None or _is_x(patch[1:]):
        version, dirty, patch_dirty = f"{major}{minor}.0{pre}", True, True
    else:
        dirty = False
    try:
        con = parse_version(version)
    except SemverError:
        raise SemverError(f"improper constraint: {text!r}") from None
    return _Constraint(op, con, dirty, minor_dirty, patch_dirty)


def _not_equal(c: _Constraint, v: Version) -> bool:
    if c.dirty:
        if c.con.major != v.major:
            return True
        if c.con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if c.con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.pre or c.con.pre:
                return _compare_prerelease(v.pre, c.con.pre) != 0
            return False
    return v.compare(c.con) != 0


def _greater(c: _Constraint, v: Version) -> bool:
    if not c.dirty:
        return v.compare(c.con) > 0
    if v.major != c.con.major:
        return v.major > c.con.major
    if c.minor_dirty:
        return False  # ">11" wants 12 or higher
    if c.patch_dirty:
        return v.minor > c.con.minor
    return v.compare(c.con) > 0


def _less_equal(c: _Constraint, v: Version) -> bool:
    if not c.dirty:
        return v.compare(c.con) <= 0
    if v.major > c.con.major:
        return False
    return not (v.major == c.con.major and v.minor > c.con.minor and not c.minor_dirty)


def _tilde(c: _Constraint, v: Version) -> bool:
    if v.compare(c.con) < 0:
        return False
    if (c.con.major, c.con.minor, c.con.patch) == (0, 0, 0) and not c.minor_dirty and not c.patch_dirty:
        return True  # ~0.0.0 and ~* accept everything
    if v.major != c.con.major:
        return False
    return v.minor == c.con.minor or c.minor_dirty


def _tilde_or_equal(c: _Constraint, v: Version) -> bool:
    return _tilde(c, v) if c.dirty else v.compare(c.con) == 0


def _caret(c: _Constraint, v: Version) -> bool:
    if v.compare(c.con) < 0:
        return False
    if c.con.major > 0 or c.minor_dirty:
        return v.major == c.con.major
    if v.major > 0:
        return False
    if c.con.minor > 0 or c.patch_dirty:
        return v.minor == c.con.minor
    if v.minor > 0:
        return False
    return v.patch == c.con.patch


_CHECKS: dict[str, Callable[[_Constraint, Version], bool]] = {
    "": _tilde_or_equal, "=": _tilde_or_equal, "!=": _not_equal,
    ">": _greater, "<": lambda c, v: v.compare(c.con) < 0,
    ">=": lambda c, v: v.compare(c.con) >= 0, "=>": lambda c, v: v.compare(c.con) >= 0,
    "<=": _less_equal, "=<": _less_equal, "~": _tilde, "~>": _tilde, "^": _caret,
}


@dataclass(frozen=True)
class Constraints:
    """OR groups of AND-ed constraints; `include_pre[i]` when group i names a prerelease."""
    groups: tuple[tuple[_Constraint, ...], ...]
    include_pre: tuple[bool, ...]

    def check(self, v: Version) -> bool:
        pairs = zip(self.groups, self.include_pre, strict=True)
        return any(all(c.check(v, pre) for c in group) for group, pre in pairs)


def _rewrite_range(text: str) -> str:
    """`1.2 - 1.4.5` becomes `>= 1.2, <= 1.4.5 `, as Masterminds rewrites it before parsing."""
    return _RANGE.sub(lambda m: f">= {m.group(1)}, <= {m.group(11)} ", text)


def parse_constraint(text: str) -> Constraints:
    groups: list[tuple[_Constraint, ...]] = []
    for segment in _rewrite_range(text).split("||"):
        if _VALID.fullmatch(segment) is None:
            raise SemverError(f"improper constraint: {segment!r}")
        groups.append(tuple(_parse_one(m.group(0)) for m in _FIND.finditer(segment)))
    return Constraints(tuple(groups), tuple(any(c.con.pre for c in g) for g in groups))


def _parses(parse: Callable[[str], object], text: str) -> bool:
    try:
        parse(text)
    except SemverError:
        return False
    return True


def is_version(text: str) -> bool:
    """An exact version as ArgoCD tells one from a constraint ("1", "v1.2", "1.2.3-rc.1")."""
    return _parses(parse_version, text)


def is_constraint(text: str) -> bool:
    """ArgoCD's `versions.IsConstraint`: not an exact version, yet a valid constraint. "1.2.3", "v1.2",
    "main", "HEAD" and "" are not; "^1.2", ">=1 <2", "1.2.*", "~1" are."""
    return not is_version(text) and _parses(parse_constraint, text)


def _candidates(tags: Iterable[str], prefix: str) -> list[str]:
    return [tag[len(prefix):] for tag in tags if tag.startswith(prefix)]


def best_match(constraint: str, versions: Iterable[str], *, prefix: str = "") -> str | None:
    """The highest version satisfying the constraint, or None. With `prefix` only versions carrying it count,
    compared without it and returned with it. The first of equal versions wins. Entries that are not
    versions are skipped; a malformed one ("1.2.3-beta.01") is an error, as ArgoCD's MaxVersion makes it."""
    constraints = parse_constraint(constraint)
    best: Version | None = None
    for candidate in _candidates(versions, prefix):
        if _LOOSE_VERSION.fullmatch(candidate) is None:
            continue
        try:
            v = parse_version(candidate)
        except SemverError as e:
            raise SemverError(f"invalid semver version in tags: {e}") from None
        if constraints.check(v) and (best is None or v.compare(best) > 0):
            best = v
    return None if best is None else prefix + best.original


def max_version(revision: str, tags: Iterable[str], *, prefix: str = "") -> str:
    """ArgoCD's `MaxVersion`: an exact version is a pin returned as given (with the prefix); a constraint
    becomes the highest matching tag; anything else must be a tag itself. Raises SemverError otherwise."""
    if is_version(revision):
        return prefix + revision
    tags = list(tags)
    if not _parses(parse_constraint, revision):
        if prefix:
            raise SemverError(f"tagPrefix {prefix!r} requires targetRevision to be a semver constraint, "
                              f"but {revision!r} is not a valid constraint")
        if revision in tags:
            return revision
        raise SemverError(f"{revision!r} is neither a version, a constraint nor a tag")
    found = best_match(revision, tags, prefix=prefix)
    if found is None:
        count = len(_candidates(tags, prefix))
        raise SemverError(f"no version matching constraint {revision!r} found in {count} tags")
    return found
