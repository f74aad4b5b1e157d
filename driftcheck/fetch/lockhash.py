"""Helm's chart dependency records and the digest a Chart.lock carries of them (`resolver.HashReq`).

Helm hashes `json.Marshal([2][]*chart.Dependency{req, lock})` with SHA-256: the struct's fields in
declaration order, empty optional ones left out, and Go's HTML-safe escaping of `<`, `>` and `&` (which
every `>=1.0.0 <2.0.0` range meets). Chart.yaml's strings are first cleaned as Helm's loader cleans
them (`sanitizeString`); a lock's are not. Scalars are read as written where Go reads them into strings,
and `import-values` typed by the Kubernetes YAML dialect (go-yaml v2: `parent: y` is the boolean true).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from driftcheck.model import DriftcheckError
from driftcheck.render.yaml import YAMLStreamError, load_single
from driftcheck.textsafe import for_terminal

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_NOT_GO_SPACE = "\x1c\x1d\x1e\x1f"  # Python's isspace says yes, Go's unicode.IsSpace no


@dataclass(frozen=True)
class Dependency:
    """One `dependencies:` entry (chart.Dependency), as Helm holds it."""

    name: str
    version: str = ""
    repository: str = ""
    condition: str = ""
    tags: tuple[str, ...] = ()
    enabled: bool = False
    import_values: tuple[Any, ...] = ()
    alias: str = ""

    def go_json(self) -> dict[str, Any]:
        """The fields json.Marshal writes, in the struct's order."""
        out: dict[str, Any] = {"name": self.name}
        if self.version:
            out["version"] = self.version
        out["repository"] = self.repository
        if self.condition:
            out["condition"] = self.condition
        if self.tags:
            out["tags"] = list(self.tags)
        if self.enabled:
            out["enabled"] = True
        if self.import_values:
            out["import-values"] = [_sorted_maps(v) for v in self.import_values]
        if self.alias:
            out["alias"] = self.alias
        return out


class DependencyFileError(DriftcheckError):
    """A Chart.yaml, requirements.yaml or lock whose dependencies cannot be read; names the file."""


def hash_req(req: list[Dependency], lock: list[Dependency]) -> str:
    """resolver.HashReq: the digest Helm writes into Chart.lock and checks before a build."""
    return _digest([[d.go_json() for d in req], [d.go_json() for d in lock]])


def hash_v2_req(req: list[Dependency]) -> str:
    """resolver.HashV2Req: the digest a Helm 2 requirements.lock carries."""
    return _digest({"dependencies": [d.go_json() for d in req]})


def _digest(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escape in _GO_ESCAPES.items():
        text = text.replace(char, escape)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def sanitize(text: str) -> str:
    """Helm's sanitizeString: white space becomes a blank, what is not printable goes."""
    return "".join(" " if c.isspace() and c not in _NOT_GO_SPACE else c for c in text
                   if (c.isspace() and c not in _NOT_GO_SPACE) or c.isprintable())


def parse_dependencies(path: Path, shown: str, *, clean: bool) -> list[Dependency]:
    """The `dependencies:` of a Chart.yaml, requirements.yaml or lock file."""
    try:
        data = path.read_bytes()
        text = yaml.load(data, Loader=yaml.BaseLoader)  # strings as written, as Go reads them
        typed = load_single(data)  # typed as sigs.k8s.io/yaml types (YAML 1.1 booleans: `y` is true)
    except (OSError, yaml.YAMLError, YAMLStreamError) as e:
        raise DependencyFileError(f"{shown}: cannot be read: {for_terminal(str(e))}") from None
    if not isinstance(text, dict) or not isinstance(typed, dict):
        raise DependencyFileError(f"{shown}: not a YAML mapping")
    entries, typed_entries = text.get("dependencies") or [], typed.get("dependencies") or []
    if not isinstance(entries, list) or not isinstance(typed_entries, list):
        raise DependencyFileError(f"{shown}: dependencies is not a list")
    out = []
    for i, (entry, typed_entry) in enumerate(zip(entries, typed_entries, strict=True), 1):
        if not isinstance(entry, dict) or not isinstance(typed_entry, dict):
            raise DependencyFileError(f"{shown}: dependency {i} is not a mapping")
        out.append(_dependency(entry, typed_entry, shown, i, clean))
    return out


def _dependency(entry: dict[str, Any], typed: dict[str, Any], shown: str, i: int,
                clean: bool) -> Dependency:
    def string(key: str) -> str:
        value = entry.get(key, "")
        if not isinstance(value, str):
            raise DependencyFileError(f"{shown}: dependency {i}: {key} is not a string")
        return sanitize(value) if clean else value

    tags = entry.get("tags") or []
    imports = typed.get("import-values") or []
    if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags) and isinstance(imports, list)):
        raise DependencyFileError(f"{shown}: dependency {i}: tags or import-values is not a list")
    name = string("name")
    if not name:
        raise DependencyFileError(f"{shown}: dependency {i} has no name")
    return Dependency(name, string("version"), string("repository"), string("condition"),
                      tuple(sanitize(t) if clean else t for t in tags), typed.get("enabled") is True,
                      tuple(imports), string("alias"))


def _sorted_maps(value: Any) -> Any:
    """Go marshals a map with its keys sorted."""
    if isinstance(value, dict):
        return {str(k): _sorted_maps(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted_maps(v) for v in value]
    return value
