"""What a commit changed in where an app's objects come from: chart and source revisions, dependency
versions of a Chart.yaml, Helm and Kustomize options of its declaration; each as one `SourceChange`.

Values of Helm parameters and values under a key that names a credential (password, token, ...) are
shown as "(changed)": an Application is anyone's text, and a report must not carry a secret it holds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from driftcheck.render.yaml import load_manifests
from driftcheck.scrub import mask_url

_SECRET_KEY = re.compile(r"(?i)pass|secret|token|credential|private|key$|auth|cert")
_SHOWN = 80  # longest value shown; a longer one is cut


@dataclass(frozen=True)
class SourceChange:
    """One changed thing: `kind` chart|source|dependency|helm|kustomize, its name, the field, from/to."""

    kind: str
    name: str
    field: str
    before: str | None
    after: str | None
    file: str

    def entry(self) -> dict[str, Any]:
        """As DeployEvent.sources holds it (the report's JSON)."""
        return {"kind": self.kind, "name": self.name, "field": self.field, "from": self.before,
                "to": self.after, "file": self.file}


def describe(entry: dict[str, Any]) -> str:
    """One line for a person: "chart sealed-secrets 2.16.1 → 2.16.2", "helm parameter image.tag: 1 → 2"."""
    before, after = entry["from"] or "(none)", entry["to"] or "(none)"
    if entry["kind"] in ("chart", "source", "dependency"):
        what = entry["name"] if entry["field"].endswith(("targetRevision", "version")) \
            else f"{entry['name']} {entry['field'].rsplit('.', 1)[-1]}"
        return f"{entry['kind']} {what} {before} → {after}"
    return f"{entry['kind']} {entry['name']}: {before} → {after}"


def deployed(declaration: dict[str, Any] | None, local: set[int]) -> Any:
    """What of a declaration decides the deploy; sources at the indexes in `local` render at the run's
    commit, so their repoURL and targetRevision do not. None when the file does not declare the app."""
    if declaration is None:
        return None
    if "helmrelease" in declaration:
        spec = declaration["helmrelease"]
        return {"helmrelease": {k: spec[k] for k in _RELEASE_FIELDS if k in spec}}
    if "config" in declaration:
        entry = declaration["config"]
        return {"sources": [{"helm": {k: entry[k] for k in ("releaseName", "valuesFiles") if k in entry}}]}
    spec = declaration["spec"]
    multi = isinstance(spec.get("sources"), list) and bool(spec["sources"])
    raw = spec["sources"] if multi else [spec.get("source")]
    out = []
    for i, source in enumerate(raw):
        source = source if isinstance(source, dict) else {}
        keep = ("helm", "kustomize") if i in local else ("repoURL", "chart", "targetRevision", "path", "helm",
                                                          "kustomize")
        out.append({k: source[k] for k in keep if k in source})
    return {"sources": out, "multi": multi}


def declaration_changes(old: dict[str, Any] | None, new: dict[str, Any] | None, local: set[int],
                        file: str) -> list[SourceChange]:
    """What differs between two versions of the app's declaration (old None: it was added)."""
    before, after = deployed(old, local), deployed(new, local)
    if after is None or before == after:
        return []
    if "helmrelease" in after:
        return helm_release_changes(_mapping((before or {}).get("helmrelease")), after["helmrelease"], file)
    old_sources = before["sources"] if before else []
    out: list[SourceChange] = []
    for i, source in enumerate(after["sources"]):
        if before is None and i in local:
            continue  # declared with files of this repository: the walk of those files has that deploy
        prior = old_sources[i] if i < len(old_sources) else {}
        where = f"spec.sources[{i}]" if after.get("multi") else "spec.source"
        out += _source_changes(prior, source, where, file, i in local)
    return out


def _source_changes(old: dict[str, Any], new: dict[str, Any], where: str, file: str,
                    only_options: bool) -> list[SourceChange]:
    out: list[SourceChange] = []
    chart = str(new.get("chart") or "")
    url = mask_url(str(new.get("repoURL") or ""))
    if not only_options:
        kind, name = ("chart", chart) if chart else ("source", url)
        if old.get("chart") != new.get("chart") and old.get("chart") and chart:
            out.append(SourceChange("chart", chart, f"{where}.chart", str(old["chart"]), chart, file))
        if old.get("repoURL") != new.get("repoURL") and old:
            out.append(SourceChange(kind, name, f"{where}.repoURL", mask_url(str(old.get("repoURL") or "")),
                                    url, file))
        if old.get("targetRevision") != new.get("targetRevision") or not old:
            out.append(SourceChange(kind, name, f"{where}.targetRevision", _text(old.get("targetRevision")),
                                    _text(new.get("targetRevision")), file))
        if old.get("path") != new.get("path") and not chart and old:
            out.append(SourceChange("source", url, f"{where}.path", _text(old.get("path")),
                                    _text(new.get("path")), file))
    for block in ("helm", "kustomize"):
        out += _options(block, _mapping(old.get(block)), _mapping(new.get(block)), f"{where}.{block}", file)
    return out


# what of a Flux HelmRelease's spec decides what helm-controller installs
_RELEASE_FIELDS = ("chart", "chartRef", "values", "valuesFrom", "releaseName", "targetNamespace",
                   "postRenderers", "commonMetadata")


def helm_release_changes(old: dict[str, Any], new: dict[str, Any], file: str) -> list[SourceChange]:
    """A HelmRelease's chart (name, version: "chart podinfo 6.5.0 → 6.6.1", its source) and values
    changes; `version` only counts for a chart from a repository (Flux ignores it for a Git path)."""
    out: list[SourceChange] = []
    a, b = _mapping(_mapping(old.get("chart")).get("spec")), _mapping(_mapping(new.get("chart")).get("spec"))
    name = str(b.get("chart") or "")
    if b and a.get("chart") != b.get("chart") and a:
        out.append(SourceChange("chart", name, "spec.chart.spec.chart", _text(a.get("chart")), name, file))
    git = _mapping(b.get("sourceRef")).get("kind") == "GitRepository"
    if b and not git and (a.get("version") != b.get("version") or not old):
        out.append(SourceChange("chart", name, "spec.chart.spec.version", _text(a.get("version") or "*"),
                                _text(b.get("version") or "*"), file))
    for key in ("sourceRef", "valuesFiles"):
        if b and a.get(key) != b.get(key) and a:
            out.append(SourceChange("chart", name, f"spec.chart.spec.{key}", _text(a.get(key)),
                                    _text(b.get(key)), file))
    if old.get("chartRef") != new.get("chartRef") and new.get("chartRef"):
        out.append(SourceChange("source", "chartRef", "spec.chartRef", _text(old.get("chartRef")),
                                _text(new.get("chartRef")), file))
    x, y = _values(old.get("values")), _values(new.get("values"))
    for pointer in changed_pointers(x, y) if x != y else []:
        out.append(SourceChange("helm", f"values {pointer}", "spec.values",
                                _secretless(pointer, _at(x, pointer)), _secretless(pointer, _at(y, pointer)),
                                file))
    for key in _RELEASE_FIELDS[3:]:
        if old.get(key) != new.get(key):
            out.append(SourceChange("helm", key, f"spec.{key}", _text(old.get(key)), _text(new.get(key)),
                                    file))
    return out


def _options(block: str, old: dict[str, Any], new: dict[str, Any], where: str,
             file: str) -> list[SourceChange]:
    """Helm parameters by name, values and valuesObject by JSON pointer, every other option as a whole."""
    out: list[SourceChange] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if block == "helm" and key == "parameters":
            out += _parameters(a, b, f"{where}.parameters", file)
        elif block == "helm" and key in ("values", "valuesObject"):
            x, y = _values(a), _values(b)
            for pointer in changed_pointers(x, y) or ["/"]:
                out.append(SourceChange(block, f"{key} {pointer}", f"{where}.{key}",
                                        _secretless(pointer, _at(x, pointer)),
                                        _secretless(pointer, _at(y, pointer)), file))
        else:
            out.append(SourceChange(block, key, f"{where}.{key}", _text(a), _text(b), file))
    return out


def _parameters(old: Any, new: Any, where: str, file: str) -> list[SourceChange]:
    def by_name(value: Any) -> dict[str, Any]:
        items = value if isinstance(value, list) else []
        return {str(p.get("name")): p.get("value") for p in items if isinstance(p, dict)}

    a, b = by_name(old), by_name(new)
    return [SourceChange("helm", f"parameter {name}", where, _secretless(name, a.get(name)),
                         _secretless(name, b.get(name)), file)
            for name in sorted(set(a) | set(b)) if a.get(name) != b.get(name) or (name in a) != (name in b)]


def chart_changes(old: bytes | None, new: bytes, file: str) -> list[SourceChange]:
    """A Chart.yaml edit: its own version and each dependency's (by alias, else name) that changed."""
    if old is None:
        return []
    a, b = _chart(old, file), _chart(new, file)
    if a is None or b is None:
        return []
    out: list[SourceChange] = []
    if a.get("version") != b.get("version"):
        out.append(SourceChange("chart", _text(b.get("name")) or "", "version", _text(a.get("version")),
                                _text(b.get("version")), file))
    deps_a, deps_b = _dependencies(a), _dependencies(b)
    for name in sorted(set(deps_a) | set(deps_b)):
        if deps_a.get(name) != deps_b.get(name):
            out.append(SourceChange("dependency", name, "dependencies.version", deps_a.get(name),
                                    deps_b.get(name), file))
    return out


def _chart(data: bytes, file: str) -> dict[str, Any] | None:
    docs, errors = load_manifests(data, file, duplicate_keys="last")
    return docs[0][0] if docs and not errors else None


def _dependencies(chart: dict[str, Any]) -> dict[str, str | None]:
    deps = chart.get("dependencies")
    return {str(d.get("alias") or d.get("name")): _text(d.get("version"))
            for d in (deps if isinstance(deps, list) else []) if isinstance(d, dict)}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _values(value: Any) -> Any:
    """helm.values is YAML text (or, as ArgoCD also accepts, a mapping); valuesObject a mapping."""
    if isinstance(value, str):
        docs, errors = load_manifests(value.encode(), "helm.values", duplicate_keys="last")
        return docs[0][0] if docs and not errors else value
    return value


def _at(value: Any, pointer: str) -> Any:
    for token in [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]:
        if isinstance(value, dict):
            value = value.get(token)
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            return None
    return value


def _secretless(name: str, value: Any) -> str | None:
    if value is None:
        return None
    return "(changed)" if any(_SECRET_KEY.search(p) for p in re.split(r"[./]", name) if p) else _text(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 1] + "…"


def changed_pointers(old: Any, new: Any, prefix: str = "") -> list[str]:
    """JSON pointers of what differs; an added or removed subtree is reported at its root."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key) or (key in old) != (key in new):
                token = str(key).replace("~", "~0").replace("/", "~1")
                out += changed_pointers(old.get(key), new.get(key), f"{prefix}/{token}")
        return out
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [prefix]
        return [p for i, (a, b) in enumerate(zip(old, new, strict=True))
                for p in changed_pointers(a, b, f"{prefix}/{i}")]
    return [] if old == new else [prefix or "/"]
