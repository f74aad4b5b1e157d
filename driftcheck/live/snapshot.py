"""Snapshots of live state: reads `kubectl get -o yaml|json` output and our format, writes ours atomically.

Our format is multi-document YAML: a first `kind: DriftcheckSnapshot` document (preceded by a readable
comment) records where and when the objects were read and *which types and namespaces were read*, so that
offline a type that was never read is reported as unreadable instead of looking like "no objects"; then one
document per object, the object as `kubectl get -o json` shows it, written as one line of JSON (JSON is
YAML, so any YAML tool reads the file; it is 10-40x faster to write and read than block YAML). Secret
values are replaced by a fixed marker unless the caller opts in: a marker cannot be reversed.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from driftcheck import kube
from driftcheck.compare.secrets import redact_secret_values
from driftcheck.live.selector import parse_selector, selects
from driftcheck.model import DriftcheckError, LiveState, Origin, Resource, ResourceKey
from driftcheck.render.yaml import decode_json, load_documents

HEADER_KIND = "DriftcheckSnapshot"
HEADER_API_VERSION = "driftcheck.io/v1"
SNAPSHOT_SUFFIXES = (".yaml", ".yml", ".json")
DOCUMENT_START = re.compile(r"^---[ \t]*(?:\n|$)", re.MULTILINE)  # a bare `---` line starts a document


def read_snapshot(path: str | os.PathLike[str], kinds: set[tuple[str, str]] | None = None,
                  namespaces: set[str] | None = None, selector: str | None = None) -> LiveState:
    """Read a snapshot file or a directory of them (recursively, in name order).

    With `kinds` (and `namespaces`, `selector`), only those objects are kept and every requested
    (kind, namespace) the snapshot did not capture becomes `unreadable` — never read is never "no objects".
    """
    requirements = parse_selector(selector or "")
    root = Path(path)
    if not root.exists():
        raise DriftcheckError(f"live snapshot {root} does not exist")
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SNAPSHOT_SUFFIXES)
    if not files:
        raise DriftcheckError(f"live snapshot {root}: no .yaml, .yml or .json files in it")
    state = LiveState(info={"snapshot": str(root)})
    headers: list[dict[str, Any]] = []
    seen_kinds: set[tuple[str, str]] = set()
    by_key: dict[ResourceKey, Resource] = {}
    for file in files:
        for body in _documents(file):
            if body.get("kind") == HEADER_KIND:
                headers.append(body)
                continue
            resource = Resource(ResourceKey.of(body), str(body.get("apiVersion", "")), body,
                                Origin("snapshot", file=str(file)))
            seen_kinds.add(resource.key.group_kind)
            if not resource.key.namespace:
                state.cluster_scoped.add(resource.key.group_kind)
            by_key[resource.key] = resource
    state.resources = list(by_key.values())
    state.cluster_scoped |= kube.CLUSTER_SCOPED_KINDS  # kubectl output says nothing of scope
    scope = _apply_headers(state, headers, root)
    if kinds is not None:
        _restrict(state, scope, kinds, namespaces, seen_kinds)
    if requirements:
        state.resources = [r for r in state.resources if selects(requirements, r.body)]
    taken_with = scope.get("selector") if scope else None
    if kinds is not None and taken_with and taken_with != selector:
        for group, kind in sorted(kinds - state.not_served):
            state.unreadable.setdefault((group, kind, ""), f"snapshot {root} holds only objects selected by "
                                        f"{taken_with!r}")
    return state


def write_snapshot(state: LiveState, path: str | os.PathLike[str],
                   include_secret_values: bool = False) -> None:
    """Write `state` as our YAML format; atomic (temp file + rename), so a reader never sees half a file."""
    target = Path(path)
    info = state.info
    header = _header(state, include_secret_values)
    comment = (f"# driftcheck snapshot of {info.get('server') or 'an unknown server'} "
               f"(context {info.get('context') or '-'}, Kubernetes {info.get('kubernetes_version') or '?'}), "
               f"taken {header['time']}; {len(state.resources)} objects.\n"
               f"# Secret values are {header['secretValues']}. "
               "Audit it offline with: driftcheck check --live-snapshot FILE\n")
    bodies = (r.body if include_secret_values else redact_secret_values(r.body)
              for r in sorted(state.resources, key=lambda r: r.key))
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(comment)
            yaml.dump(header, out, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False,
                      explicit_start=True, allow_unicode=True)
            for body in bodies:  # JSON is YAML, and 5-10x faster to write and read than block YAML
                out.write("---\n")
                out.write(json.dumps(body, ensure_ascii=False))
                out.write("\n")
            out.flush()
            os.fsync(out.fileno())  # on disk before it takes the name: an archive survives a crash
        os.replace(tmp, target)
    except OSError as exc:
        raise DriftcheckError(f"cannot write snapshot {target}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _header(state: LiveState, include_secret_values: bool) -> dict[str, Any]:
    info = state.info
    scope = info.get("scope") or {}
    kinds = scope.get("kinds") or {r.key.group_kind for r in state.resources}
    redacted = not include_secret_values or info.get("secrets_redacted")
    return {
        "apiVersion": HEADER_API_VERSION,
        "kind": HEADER_KIND,
        "server": info.get("server", ""),
        "context": info.get("context", ""),
        "kubernetesVersion": info.get("kubernetes_version", ""),
        "time": info.get("time") or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "secretValues": "redacted" if redacted else "included",
        "namespaces": sorted(scope["namespaces"]) if scope.get("namespaces") is not None else None,
        "selector": scope.get("selector"),
        "types": [_gk(g, k) for g, k in sorted(kinds)],
        "clusterScoped": [_gk(g, k) for g, k in sorted(state.cluster_scoped)],
        "notServed": [_gk(g, k) for g, k in sorted(state.not_served)],
        **({"servedKinds": [_gk(g, k) for g, k in sorted(info["served"])]} if info.get("served") else {}),
        # Helm's .Capabilities.APIVersions for charts audited against this snapshot (live/capabilities.py)
        **({"apiVersions": list(info["api_versions"])} if info.get("api_versions") else {}),
        "unreadable": [{"group": g, "kind": k, "namespace": ns, "reason": reason}
                       for (g, k, ns), reason in sorted(state.unreadable.items())],
        "objects": len(state.resources),
    }


def read_header(path: Path) -> dict[str, Any] | None:
    """The first DriftcheckSnapshot header of a snapshot file or directory, reading no further than each
    file's first document (what `check` needs before rendering, without reading every object twice)."""
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SNAPSHOT_SUFFIXES)
    for file in files:
        lines: list[str] = []
        started = False
        try:
            with file.open(encoding="utf-8") as text:
                for line in text:
                    if DOCUMENT_START.match(line):
                        if started:
                            break
                        started = True
                    elif started:
                        lines.append(line)
                    elif line.strip() and not line.startswith("#"):
                        break  # kubectl output or JSON: no header of ours
        except (OSError, UnicodeDecodeError):
            continue  # read_snapshot words it
        try:
            docs = load_documents("".join(lines))
        except ValueError:
            continue
        if docs and isinstance(docs[0], dict) and docs[0].get("kind") == HEADER_KIND:
            return docs[0]
    return None


def _gk(group: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind}


def _apply_headers(state: LiveState, headers: list[dict[str, Any]], root: Path) -> dict[str, Any] | None:
    """Fold the snapshot headers into `state`; returns the read scope, or None for plain kubectl output."""
    if not headers:
        return None
    scope: dict[str, Any] = {"kinds": set(), "namespaces": set(), "selector": None}
    served: set[tuple[str, str]] = set()
    try:
        for header in headers:
            state.info.update(server=header.get("server", ""), context=header.get("context", ""),
                              kubernetes_version=header.get("kubernetesVersion", ""),
                              time=header.get("time", ""))
            if header.get("secretValues") != "included":
                state.info["secrets_redacted"] = True
            scope["kinds"] |= {(t["group"], t["kind"]) for t in header.get("types") or ()}
            if header.get("namespaces") is None:
                scope["namespaces"] = None
            elif scope["namespaces"] is not None:
                scope["namespaces"] |= set(header["namespaces"])
            scope["selector"] = scope["selector"] or header.get("selector")
            state.cluster_scoped |= {(t["group"], t["kind"]) for t in header.get("clusterScoped") or ()}
            state.not_served |= {(t["group"], t["kind"]) for t in header.get("notServed") or ()}
            served |= {(t["group"], t["kind"]) for t in header.get("servedKinds") or ()}
            for entry in header.get("unreadable") or ():
                state.unreadable[(entry["group"], entry["kind"], entry["namespace"])] = entry["reason"]
    except (KeyError, TypeError, AttributeError) as exc:
        raise DriftcheckError(f"live snapshot {root}: malformed {HEADER_KIND} header ({exc!r})") from None
    state.info["scope"] = scope
    if served:
        state.info["served"] = served
    return scope


def _restrict(state: LiveState, scope: dict[str, Any] | None, kinds: set[tuple[str, str]],
              namespaces: set[str] | None, seen_kinds: set[tuple[str, str]]) -> None:
    """Keep the requested objects; mark every requested type or namespace the snapshot lacks unreadable."""
    state.resources = [r for r in state.resources if r.key.group_kind in kinds
                       and (namespaces is None or not r.key.namespace or r.key.namespace in namespaces)]
    captured = (scope["kinds"] if scope is not None else set()) | seen_kinds  # plain kubectl files count too
    served = state.info.get("served")  # every kind the cluster served, when the snapshot recorded it
    for group, kind in sorted(kinds - captured - state.not_served):
        if served is not None and (group, kind) not in served:
            state.not_served.add((group, kind))
        elif not any(key[:2] == (group, kind) for key in state.unreadable):
            state.unreadable[(group, kind, "")] = f"not captured in snapshot {state.info['snapshot']}"
    if scope is None or scope["namespaces"] is None or namespaces is None:
        return
    where = state.info["snapshot"]
    for group, kind in sorted((kinds & captured) - state.cluster_scoped):
        for namespace in sorted(namespaces - scope["namespaces"]):
            state.unreadable.setdefault((group, kind, namespace),
                                        f"namespace {namespace} not captured in snapshot {where}")


def _documents(file: Path) -> Iterator[dict[str, Any]]:
    """Every object in a file (YAML documents or JSON); `List`s, kubectl's or a raw API list, unwrapped."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DriftcheckError(f"live snapshot {file}: cannot read ({exc})") from None
    try:
        docs = _parse(text)
    except ValueError as exc:  # YAMLStreamError and JSON's errors alike
        raise DriftcheckError(f"live snapshot {file}: not valid YAML or JSON ({_one_line(exc)})") from None
    for doc in docs:
        if isinstance(doc, list):
            yield from (item for item in doc if _is_object(item))
        elif isinstance(doc, dict) and isinstance(doc.get("items"), list) and _is_list_kind(doc):
            yield from _list_items(doc)
        elif isinstance(doc, dict) and (doc.get("kind") == HEADER_KIND or _is_object(doc)):
            yield doc
        elif doc is not None:
            raise DriftcheckError(f"live snapshot {file}: a document is not a Kubernetes object or List")


def _parse(text: str) -> list[Any]:
    """One JSON document if the file is one, else a YAML stream (`{…}\n---\n{…}` is one of JSON documents):
    the first character alone cannot tell them apart. Both are read by the Kubernetes dialect, as Git is."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            return [decode_json(text)]
        except ValueError:
            pass  # not a single JSON document: the YAML stream reader decides, and words any error
    return _yaml_documents(text)


def _yaml_documents(text: str) -> list[Any]:
    """A YAML stream's documents; those written as JSON (ours) are parsed as JSON, which is far faster."""
    docs: list[Any] = []
    for chunk in DOCUMENT_START.split(text):
        if chunk.lstrip()[:1] == "{":
            try:
                docs.append(decode_json(chunk))
                continue
            except ValueError:
                pass  # YAML flow style that is not JSON: the YAML loader takes it
        docs.extend(load_documents(chunk))
    return docs


def _list_items(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Items of a `v1/List` carry apiVersion/kind; items of a raw `DeploymentList` get them from the list."""
    list_kind = str(doc["kind"])
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        if list_kind != "List":
            item.setdefault("apiVersion", doc.get("apiVersion", ""))
            item.setdefault("kind", list_kind.removesuffix("List"))
        if _is_object(item):
            yield item


def _is_list_kind(doc: dict[str, Any]) -> bool:
    return str(doc.get("kind", "")).endswith("List")


def _is_object(doc: Any) -> bool:
    return (isinstance(doc, dict) and bool(doc.get("kind")) and bool(doc.get("apiVersion"))
            and isinstance(doc.get("metadata"), dict) and bool(doc["metadata"].get("name")))


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
