"""Writes for the API emulator (opt-in): PUT, PATCH (JSON, merge, strategic merge, apply), managedFields as
the API server keeps them, and the audit.k8s.io/v1 Event it logs for every mutating request.

Only what tests of "who changed it" need: an update takes ownership of the fields it changes from every
other manager, an apply owns the fields of its configuration; the `scale` subresource edits
`spec.replicas`; `dryRun` answers without storing. Times come from the emulator's clock, so a test can
script a day.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

Fields = dict[str, Any]  # fieldsV1
NOT_MANAGED = {"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"}


class Refused(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason = code, reason


def patched(current: dict[str, Any], content_type: str, body: bytes) -> tuple[dict[str, Any], str]:
    """The object after a PATCH, and the managedFields operation it counts as (Update or Apply)."""
    kind = content_type.split(";")[0].strip()
    try:
        if kind == "application/apply-patch+yaml":
            return strategic_merge(current, yaml.safe_load(body) or {}), "Apply"
        patch = json.loads(body or b"null")
    except (ValueError, yaml.YAMLError) as exc:
        raise Refused(400, "BadRequest", f"cannot parse the patch: {exc}") from None
    if kind == "application/json-patch+json":
        return json_patch(current, patch), "Update"
    if kind == "application/merge-patch+json":
        return merge_patch(current, patch), "Update"
    if kind == "application/strategic-merge-patch+json":
        return strategic_merge(current, patch), "Update"
    raise Refused(415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {kind}")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strategic_merge(target: Any, patch: Any) -> Any:
    """Merge patch where lists of named objects (containers, env, ports, volumes) merge by `name`;
    `$`-directives such as kubectl's `$setElementOrder` are dropped."""
    if isinstance(patch, list) and isinstance(target, list) and all(
            isinstance(i, dict) and "name" in i for i in [*patch, *target]):
        merged = [copy.deepcopy(i) for i in target]
        for item in patch:
            index = next((n for n, old in enumerate(merged) if old["name"] == item["name"]), None)
            if index is None:
                merged.append(strategic_merge({}, item))
            else:
                merged[index] = strategic_merge(merged[index], item)
        return merged
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            out.pop(key, None)
        else:
            out[key] = strategic_merge(out.get(key), value)
    return out


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 add/replace/remove/test."""
    doc = copy.deepcopy(target)
    for op in ops if isinstance(ops, list) else []:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in str(op.get("path", "")).split("/")[1:]]
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        last = parts[-1]
        if op.get("op") == "test":
            if (parent[int(last)] if isinstance(parent, list) else parent.get(last)) != op.get("value"):
                raise Refused(422, "Invalid", f"test failed at {op.get('path')}")
        elif op.get("op") == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        elif isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            parent[index:index + (op.get("op") == "replace")] = [op.get("value")]
        else:
            parent[last] = op.get("value")
    return doc


def manager_of(user_agent: str) -> str:
    """The manager the API server records for a request without fieldManager: the user agent's prefix."""
    return "".join(c for c in user_agent.split("/", 1)[0] if c.isprintable())[:128]


# -- managedFields -------------------------------------------------------------------------------------
def _segment(key: Any, value: Any) -> str:
    if isinstance(key, int):
        if isinstance(value, dict) and "name" in value:
            return "k:" + json.dumps({"name": value["name"]}, separators=(",", ":"))
        return f"i:{key}"
    return f"f:{key}"


def leaves(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf of a value as fieldsV1 path segments (a scalar list is one leaf)."""
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in leaves(v, (*prefix, _segment(k, v)))]
    if isinstance(value, list) and value and all(isinstance(i, dict) and "name" in i for i in value):
        return [p for i, v in enumerate(value) for p in leaves(v, (*prefix, _segment(i, v)))]
    return [prefix] if prefix else []


def changed_leaves(old: Any, new: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Leaves of `new` whose value differs from `old` (added or changed)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [p for k, v in new.items() for p in changed_leaves(old.get(k), v, (*prefix, _segment(k, v)))]
    named = all(isinstance(i, dict) and "name" in i for i in [*(old or []), *(new or [])]) \
        if isinstance(old, list) and isinstance(new, list) else False
    if named:
        before = {i["name"]: i for i in old}
        return [p for i, v in enumerate(new)
                for p in changed_leaves(before.get(v["name"]), v, (*prefix, _segment(i, v)))]
    if old == new:
        return []
    return leaves(new, prefix) or ([prefix] if prefix else [])


def managed_view(body: dict[str, Any], subresource: str) -> dict[str, Any]:
    """The part of an object a manager can own: no bookkeeping metadata; status only through /status."""
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in NOT_MANAGED}
    rest = {k: v for k, v in body.items() if k not in ("metadata", "status", "apiVersion", "kind")}
    if subresource == "status":
        return {"status": body.get("status")} if "status" in body else {}
    return {"metadata": meta, **rest}


def _add(fields: Fields, path: tuple[str, ...]) -> None:
    node = fields
    for seg in path:
        node = node.setdefault(seg, {})


def _remove(fields: Fields, path: tuple[str, ...]) -> None:
    if not path or path[0] not in fields:
        return
    if len(path) == 1:
        del fields[path[0]]
        return
    _remove(fields[path[0]], path[1:])
    if not fields[path[0]]:
        del fields[path[0]]


def record_managers(old: dict[str, Any], new: dict[str, Any], manager: str, operation: str,
                    subresource: str, when: str, applied: dict[str, Any] | None = None) -> None:
    """Set new's managedFields: the changed fields move to (manager, operation, subresource) at `when`."""
    changed = changed_leaves(managed_view(old, subresource), managed_view(new, subresource))
    owned = leaves(managed_view(applied, subresource)) if applied is not None else changed
    entries = copy.deepcopy((old.get("metadata") or {}).get("managedFields") or [])
    for entry in entries:
        for path in changed:
            _remove(entry.setdefault("fieldsV1", {}), path)
    entries = [e for e in entries if e.get("fieldsV1")]
    mine = next((e for e in entries if (e.get("manager"), e.get("operation"), e.get("subresource", ""))
                 == (manager, operation, subresource)), None)
    if mine is None and (owned or changed):
        mine = {"manager": manager, "operation": operation, "apiVersion": new.get("apiVersion", ""),
                "time": when, "fieldsType": "FieldsV1", "fieldsV1": {}}
        if subresource:
            mine["subresource"] = subresource
        entries.append(mine)
    if mine is not None:
        if applied is not None:
            mine["fieldsV1"] = {}
        for path in owned:
            _add(mine["fieldsV1"], path)
        if changed:
            mine["time"] = when
    new.setdefault("metadata", {})["managedFields"] = entries


# -- the audit log ---------------------------------------------------------------------------------------
def rfc3339(epoch: float, micro: bool = True) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="microseconds" if micro else "seconds").replace("+00:00", "Z")


class AuditWriter:
    """Appends one audit.k8s.io/v1 Event per line, as kube-apiserver's log backend does."""

    def __init__(self, path: Path, level: str = "Metadata") -> None:
        self.path, self.level = Path(path), level
        self._lock = threading.Lock()

    def write(self, *, verb: str, uri: str, user: dict[str, Any], impersonated: dict[str, Any] | None,
              source_ip: str, user_agent: str, object_ref: dict[str, str], code: int, received: float,
              completed: float, request: Any = None, response: Any = None) -> None:
        event: dict[str, Any] = {
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": self.level,
            "auditID": str(uuid.uuid4()), "stage": "ResponseComplete", "requestURI": uri, "verb": verb,
            "user": user,
            **({"impersonatedUser": impersonated} if impersonated else {}),
            "sourceIPs": [source_ip], "userAgent": user_agent, "objectRef": object_ref,
            "responseStatus": {"metadata": {}, "code": code},
            "requestReceivedTimestamp": rfc3339(received), "stageTimestamp": rfc3339(completed),
            "annotations": {"authorization.k8s.io/decision": "allow",
                            "authorization.k8s.io/reason": "emulator: every authenticated user may write"},
        }
        if self.level in ("Request", "RequestResponse") and request is not None:
            event["requestObject"] = request
        if self.level == "RequestResponse" and response is not None:
            event["responseObject"] = response
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
