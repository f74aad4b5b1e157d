"""One `ArtifactGenerator` output artifact's files, made from its `copy` rules as source-watcher's
builder (internal/builder) makes them, in order, later rules overwriting earlier ones.

`from: "@alias/pattern"`, `to: "@artifact/path"`. A pattern without `*?[]` is one file or directory,
copied cp-like: a directory lands *inside* `to` under its own name (`@alias/` is the whole source into
`to`), a file lands at `to`, or inside it when `to` ends in `/` or is a directory already. A glob is
Go's `fs.Glob` (one path element per `*`, so `dir/**` is `dir/*`), except for Extract, which globs with
doublestar; each match keeps its path under `to`, but a `dir/**` pattern drops the `dir/` prefix. A
matched directory is copied whole. `exclude` (doublestar) is matched against the path from the source
root and from the pattern's literal prefix; a pattern without `/` also against the file name.
`Merge` deep-merges a YAML (or JSON) file into an existing one as Helm merges values (maps merged,
lists replaced; every document of each file merged first), written as sigs.k8s.io/yaml writes it;
only files a pattern matches are merged, never the files inside a matched directory. `Extract`
unpacks `.tar.gz`/`.tgz` files into `to` (other glob matches skipped). Paths never leave the source
or the artifact (source-watcher's `os.Root`).
"""

from __future__ import annotations

import os
import posixpath
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftcheck.fetch.archive import ArchiveError, extract_layer
from driftcheck.flux.envsubst_yaml import to_yaml
from driftcheck.flux.goglob import BadPattern, doublestar_glob, doublestar_match, doublestar_validate, fs_glob
from driftcheck.render.yaml import YAMLStreamError, load_documents
from driftcheck.render.yaml.dialect import json_number
from driftcheck.textsafe import shown

STRATEGIES = ("Overwrite", "Merge", "Extract")


class CopyError(ValueError):
    """A copy rule source-watcher's build fails on; the message is the builder's, in its words."""


@dataclass(frozen=True)
class CopyRule:
    """One `spec.artifacts[].copy[]` entry."""

    source: str  # from
    to: str
    exclude: tuple[str, ...] = ()
    strategy: str = "Overwrite"


@dataclass
class _Op:
    rule: CopyRule
    root: Path  # the source alias's files
    staging: Path
    excludes: Sequence[str] = field(default_factory=tuple)


def build_artifact(rules: Sequence[CopyRule], sources: Mapping[str, Path], staging: Path) -> None:
    """Apply rules in order into staging (made if missing); CopyError naming the failing rule."""
    staging.mkdir(parents=True, exist_ok=True)
    for rule in rules:
        try:
            _apply(rule, sources, staging)
        except CopyError as e:
            raise CopyError(f"failed to apply copy operation from '{shown(rule.source)}' to "
                            f"'{shown(rule.to)}': {e}") from None


def _apply(rule: CopyRule, sources: Mapping[str, Path], staging: Path) -> None:
    if not rule.source.startswith("@"):
        raise CopyError(f"invalid copy source '{shown(rule.source)}': source must start with '@'")
    alias, slash, pattern = rule.source[1:].partition("/")
    if not slash:
        raise CopyError(f"invalid copy source '{shown(rule.source)}': source format must be '@alias/pattern'")
    if not rule.to.startswith("@artifact/"):
        raise CopyError(f"invalid copy destination '{shown(rule.to)}': destination must start with "
                        "'@artifact/'")
    dest = rule.to.removeprefix("@artifact/")
    if alias not in sources:
        raise CopyError(f"source alias '{shown(alias)}' not found")
    for exclude in rule.exclude:
        try:
            doublestar_validate(exclude)
        except BadPattern:
            raise CopyError(f"invalid exclude pattern '{shown(exclude)}'") from None
    op = _Op(rule, sources[alias], staging, rule.exclude)
    if not any(c in pattern for c in "*?[]"):
        _single(op, pattern, dest, rule.to.endswith("/"))
        return
    try:
        matches = (doublestar_glob if rule.strategy == "Extract" else fs_glob)(op.root, pattern)
    except BadPattern as e:
        raise CopyError(f"invalid glob pattern '{shown(pattern)}': {e}") from None
    if not matches:
        raise CopyError(f"no files match pattern '{shown(pattern)}' in source '{shown(alias)}'")
    base = _selection_root(pattern)
    kept = [m for m in matches if m not in (".", "..") and not _excluded(m, base, rule.exclude)]
    if not kept:
        raise CopyError(f"all files matching pattern '{shown(pattern)}' in source '{shown(alias)}' were "
                        "excluded")
    for match in kept:
        if rule.strategy == "Extract":
            if _is_tarball(match):
                _extract(op, match, dest)
            continue
        prefix = pattern.removesuffix("/**") if pattern.endswith("/**") else None
        if prefix is not None and match.startswith(prefix + "/"):
            target = _join(dest, match[len(prefix) + 1:])
        else:
            target = _join(dest, match)
        _copy(op, match, target, base)


def _single(op: _Op, pattern: str, dest: str, dest_is_dir: bool) -> None:
    """A source named without glob characters: one file or one directory, cp-like."""
    path = _clean(pattern)
    source = _source(op, path)
    if not source.exists():
        raise CopyError(f"source '{shown(path)}' does not exist")
    if source.is_dir():
        if op.rule.strategy == "Extract":
            raise CopyError(f"extract strategy is not supported for directories, got '{shown(path)}'")
        _copy(op, path, _join(dest, posixpath.basename(path) if path != "." else "."), path)
        return
    if _excluded(path, ".", op.excludes):
        return
    if op.rule.strategy == "Extract":
        if not _is_tarball(path):
            raise CopyError(f"extract strategy requires tarball file (.tar.gz or .tgz), got '{shown(path)}'")
        _extract(op, path, dest)
        return
    existing = _target(op, dest) if dest else op.staging
    if dest_is_dir or existing.is_dir():
        dest = _join(dest, posixpath.basename(path))
    _copy(op, path, dest, ".")


def _copy(op: _Op, path: str, dest: str, base: str) -> None:
    """copyFileWithRoots: a directory recursively (excludes applied), a file merged or overwritten."""
    source = _source(op, path)
    if source.is_dir():
        _copy_dir(op, path, dest, base)
    elif op.rule.strategy == "Merge" and _target(op, dest).exists():
        _merge(op, path, dest)
    else:
        _copy_file(op, source, dest)


def _copy_dir(op: _Op, path: str, dest: str, base: str) -> None:
    _mkdir(op, dest)
    root = _source(op, path)
    for directory, names, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        names.sort()
        for name in sorted(names + files):
            rel = name if relative == "." else f"{relative}/{name}"
            full = rel if path == "." else f"{path}/{rel}"
            entry = Path(directory) / name
            if entry.is_symlink():
                continue
            if _excluded(full, base, op.excludes):
                if name in names:
                    names.remove(name)
                continue
            if entry.is_dir():
                _mkdir(op, _join(dest, rel))
            else:
                _copy_file(op, entry, _join(dest, rel))


def _copy_file(op: _Op, source: Path, dest: str) -> None:
    target = _target(op, dest)
    parent = posixpath.dirname(dest)
    if parent:
        _mkdir(op, parent)
    if target.is_dir():
        raise CopyError(f"failed to copy file to '{shown(dest)}': is a directory")
    if target.exists():
        target.unlink()  # the staged file may be a read-only copy; Create truncates it
    shutil.copyfile(source, target)
    os.chmod(target, source.stat().st_mode & 0o777 | 0o200)


def _merge(op: _Op, path: str, dest: str) -> None:
    base = _load_yaml(_target(op, dest), dest)
    overlay = _load_yaml(_source(op, path), path)
    merged = _json_numbers(_merge_maps(base, overlay))
    target = _target(op, dest)
    target.unlink()
    target.write_text(to_yaml(merged), encoding="utf-8")


def _load_yaml(file: Path, shown_as: str) -> dict[str, Any]:
    """Every document of file merged into one map, as the builder's loadYAML does."""
    try:
        documents = load_documents(file.read_bytes())
    except OSError as e:
        raise CopyError(f"cannot read {shown(shown_as)}: {e.strerror or e}") from None
    except (YAMLStreamError, UnicodeDecodeError) as e:
        raise CopyError(f"error reading YAML document {shown(shown_as)}: {e}") from None
    out: dict[str, Any] = {}
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise CopyError(f"cannot unmarshal YAML document {shown(shown_as)}: a "
                            f"{type(document).__name__}, not a mapping")
        out = _merge_maps(out, document)
    return out


def _merge_maps(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Helm's values merge: nested maps merged, anything else (lists too) replaced by the overlay."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_maps(out[key], value)
        else:
            out[key] = value
    return out


def _json_numbers(value: Any) -> Any:
    """Values as they come back from sigs.k8s.io/yaml's JSON round trip (2.0 is written 2)."""
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_numbers(v) for v in value]
    if isinstance(value, float):
        return json_number(value)
    return value


def _extract(op: _Op, path: str, dest: str) -> None:
    target = _mkdir(op, dest)
    try:
        extract_layer(_source(op, path), target, name=path)
    except ArchiveError as e:
        raise CopyError(f"failed to extract tarball '{shown(path)}' to '{shown(dest)}': {e}") from None


def _is_tarball(path: str) -> bool:
    return path.lower().endswith((".tar.gz", ".tgz"))


def _excluded(path: str, base: str, patterns: Sequence[str]) -> bool:
    """shouldExcludePath: the path from the source root, else from the pattern's literal prefix."""
    if _matches_any(path, patterns):
        return True
    base, path = posixpath.normpath(base), posixpath.normpath(path)
    relative = path if base in (".", "") else posixpath.relpath(path, base)
    if relative == ".." or relative.startswith("../") or relative in (".", path):
        return False
    return _matches_any(relative, patterns)


def _matches_any(path: str, patterns: Sequence[str]) -> bool:
    name = posixpath.basename(path)
    return any(doublestar_match(p, path) or ("/" not in p and doublestar_match(p, name)) for p in patterns)


def _selection_root(pattern: str) -> str:
    """The literal directories before the pattern's first glob element."""
    parts = []
    for part in _clean(pattern).split("/"):
        if any(c in part for c in "*?[]"):
            break
        parts.append(part)
    return posixpath.join(*parts) if parts else "."


def _clean(path: str) -> str:
    return posixpath.normpath(path) if path else "."


def _join(*parts: str) -> str:
    joined = posixpath.join(*[p for p in parts if p])
    return posixpath.normpath(joined) if joined else "."


def _confined(path: str, what: str) -> str:
    clean = _clean(path)
    if clean.startswith("/") or clean == ".." or clean.startswith("../"):
        raise CopyError(f"{what} '{shown(path)}': path escapes from parent")
    return clean


def _source(op: _Op, path: str) -> Path:
    return op.root / _confined(path, "failed to stat source")


def _target(op: _Op, path: str) -> Path:
    return op.staging / _confined(path, "destination")


def _mkdir(op: _Op, path: str) -> Path:
    target = _target(op, path)
    if target.exists() and not target.is_dir():
        raise CopyError(f"failed to create destination directory '{shown(path)}': not a directory")
    target.mkdir(parents=True, exist_ok=True)
    return target
