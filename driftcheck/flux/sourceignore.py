"""Which files a Flux source's artifact leaves out, as source-controller decides (fluxcd/pkg `sourceignore`).

Patterns are gitignore lines, each scoped to the directory of the `.sourceignore` file that holds it; the
files are read root first, then each sub-directory in name order, depth first (`LoadIgnorePatterns`),
and the object's `spec.ignore` lines come last, scoped to the root. The last pattern that matches a path
decides (`!` re-includes). The default exclusions (images, archives, CI files, `.sops.yaml`, `.flux.yaml`,
`.goreleaser.yml`) apply only when there is no pattern at all: any `.sourceignore` line or `spec.ignore`
replaces them, and only the VCS files (`.git/`, `.gitignore`, `.gitmodules`, `.gitattributes`) stay
excluded (`storage.SourceIgnoreFilter`). Names match as Go's `filepath.Match` matches them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

IGNORE_FILE = ".sourceignore"
EXCLUDE_VCS = (".git/", ".gitignore", ".gitmodules", ".gitattributes")
EXCLUDE_DEFAULT = ("*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
                   ".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml",
                   "cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
                   "**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml")


@dataclass(frozen=True)
class Pattern:
    """One gitignore line as fluxcd/pkg's `gitignore.ParsePattern` reads it."""

    domain: tuple[str, ...]
    parts: tuple[str, ...]
    inclusion: bool
    dir_only: bool
    is_glob: bool

    def match(self, path: tuple[str, ...], is_dir: bool) -> int:
        """1 exclude, 2 include, 0 no match (`pattern.Match`)."""
        if len(path) <= len(self.domain) or path[:len(self.domain)] != self.domain:
            return 0
        rest = path[len(self.domain):]
        matched = self._glob(rest, is_dir) if self.is_glob else self._name(rest, is_dir)
        return (2 if self.inclusion else 1) if matched else 0

    def _name(self, path: tuple[str, ...], is_dir: bool) -> bool:
        for i, name in enumerate(path):
            if not go_match(self.parts[0], name):
                continue
            return not (self.dir_only and not is_dir and i == len(path) - 1)
        return False

    def _glob(self, path: tuple[str, ...], is_dir: bool) -> bool:
        matched = traverse = False
        rest = list(path)
        for i, part in enumerate(self.parts):
            if part == "":
                traverse = False
                continue
            if part == "**":
                if i == len(self.parts) - 1:
                    break
                traverse = True
                continue
            if "**" in part or not rest:
                return False
            if traverse:
                traverse = False
                while rest:
                    name = rest.pop(0)
                    if go_match(part, name):
                        matched = True
                        break
                    if not rest:
                        matched = False
            else:
                if not go_match(part, rest[0]):
                    return False
                matched = True
                rest.pop(0)
        return not (matched and self.dir_only and not is_dir and not rest) and matched


def parse(line: str, domain: tuple[str, ...] = ()) -> Pattern:
    inclusion = line.startswith("!")
    text = line[1:] if inclusion else line
    if not text.endswith("\\ "):
        text = text.rstrip(" ")
    dir_only = text.endswith("/")
    text = text[:-1] if dir_only else text
    return Pattern(domain, tuple(text.split("/")), inclusion, dir_only, "/" in text)


def read_patterns(text: str, domain: tuple[str, ...] = ()) -> list[Pattern]:
    """The patterns of an ignore file or `spec.ignore`: comments and blank lines skipped."""
    return [parse(line, domain) for line in text.splitlines()
            if not line.startswith("#") and line.strip()]


def load_patterns(directories: Iterable[str], read: Callable[[str], str | None]) -> list[Pattern]:
    """Every `.sourceignore` under the tree in `LoadIgnorePatterns` order; read(path) gives a file's
    text or None. directories: every directory of the tree, "" for the root."""
    children: dict[str, list[str]] = {}
    for directory in directories:
        if directory:
            parent, _, name = directory.rpartition("/")
            children.setdefault(parent, []).append(name)
    found: list[Pattern] = []

    def visit(directory: str) -> None:
        domain = tuple(directory.split("/")) if directory else ()
        text = read(f"{directory}/{IGNORE_FILE}" if directory else IGNORE_FILE)
        if text is not None:
            found.extend(read_patterns(text, domain))
        for name in sorted(children.get(directory, ())):
            if name != ".git":
                visit(f"{directory}/{name}" if directory else name)

    visit("")
    return found


class Matcher:
    """`SourceIgnoreFilter`: the VCS files always, the defaults only when no pattern was given."""

    def __init__(self, patterns: list[Pattern]) -> None:
        base = [parse(p) for p in EXCLUDE_VCS]
        self.patterns = base + (patterns if patterns else [parse(p) for p in EXCLUDE_DEFAULT])

    def excluded(self, path: str, is_dir: bool = False) -> bool:
        parts = tuple(path.split("/"))
        for pattern in reversed(self.patterns):
            result = pattern.match(parts, is_dir)
            if result:
                return result == 1
        return False


def go_match(pattern: str, name: str) -> bool:
    """Go's `filepath.Match` on one name (no `/` in it); a malformed pattern matches nothing."""
    compiled = _compile(pattern)
    return compiled is not None and compiled.fullmatch(name) is not None


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str] | None:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            i += 1
            if i >= len(pattern):
                return None
            out.append(re.escape(pattern[i]))
        elif c == "[":
            end, klass = _class(pattern, i + 1)
            if end < 0:
                return None
            out.append(klass)
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _class(pattern: str, i: int) -> tuple[int, str]:
    """A `[...]` class starting after its `[`: (index of its `]`, the regex), or (-1, "") if malformed
    (Go: `^` negates, `a-z` ranges, `\\` escapes, a bare `-` or `]` inside is an error)."""
    negate = i < len(pattern) and pattern[i] == "^"
    i += negate
    ranges: list[str] = []
    while i < len(pattern) and not (pattern[i] == "]" and ranges):
        lo, i = _class_char(pattern, i)
        hi = lo
        if lo is not None and i < len(pattern) and pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
        if lo is None or hi is None or hi < lo:
            return -1, ""
        ranges.append(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}")
    if i >= len(pattern):
        return -1, ""
    body = "".join(ranges)
    return i, f"[^/{body}]" if negate else f"[{body}]"


def _class_char(pattern: str, i: int) -> tuple[str | None, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        return None, i
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            return None, i
    return pattern[i], i + 1
