"""Secret redaction: values become per-key markers before anything is compared, shown, logged or written.

`redact` serves the comparison (markers say whether Git and live agree); `redact_secret_values` is the
one function every writer of Secret bodies (render, snapshot) calls, so no writer can miss a place
where a value rides.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from driftcheck.compare.pointer import ABSENT
from driftcheck.kube import LAST_APPLIED, REDACTED

IN_GIT = "<secret>"
UNCHANGED = "<secret: unchanged>"
CHANGED = "<secret: changed>"
NOT_IN_GIT = "<secret: not in Git>"
NOT_COMPARED = "<secret: not compared, redacted in snapshot>"
CHANGED_NOTE = "secret value differs from Git (values are never shown)"


# Fields of a core Secret that hold no value; anything else at the top level is treated as one.
_SECRET_FRAME = frozenset({"apiVersion", "kind", "metadata", "type", "immutable"})


def redact_secret_values(body: dict[str, Any], data_marker: str = REDACTED,
                         string_marker: str = REDACTED) -> dict[str, Any]:
    """A copy of a core Secret (or of a `*List` of them) with every value replaced; other bodies as they are.

    Keys are kept. Values go from `data` (each becomes `data_marker`), `stringData` and any unknown
    top-level field (`string_marker`), and from every copy of the object an annotation records: the
    last-applied-configuration, or any annotation whose JSON holds `data`/`stringData`, is parsed,
    redacted the same way and written back compact; a last-applied that is not a JSON object is
    replaced whole. `data_marker` lets render keep `data` valid base64 for `kubectl apply`.
    """
    kind = str(body.get("kind", ""))
    if kind.endswith("List") and isinstance(body.get("items"), list):
        items = [redact_secret_values(i, data_marker, string_marker) if isinstance(i, dict) else i
                 for i in body["items"]]
        return {**body, "items": items}
    group = str(body.get("apiVersion", "")).rpartition("/")[0]
    if kind != "Secret" or group != "":
        return body
    return _without_values(body, data_marker, string_marker)


def _without_values(secret: dict[str, Any], data_marker: str, string_marker: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in secret.items():
        if name == "data" and isinstance(value, dict):
            out[name] = dict.fromkeys(value, data_marker)
        elif name == "metadata" and isinstance(value, dict):
            out[name] = _metadata(value, data_marker, string_marker)
        elif name in _SECRET_FRAME:
            out[name] = value
        else:  # stringData, a malformed data, or a field no Secret has: a value either way
            out[name] = dict.fromkeys(value, string_marker) if isinstance(value, dict) else string_marker
    return out


def _metadata(meta: dict[str, Any], data_marker: str, string_marker: str) -> dict[str, Any]:
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        return meta
    redacted: dict[str, Any] = {}
    for name, text in annotations.items():
        try:
            recorded = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            recorded = None
        if isinstance(recorded, dict) and (name == LAST_APPLIED or {"data", "stringData"} & recorded.keys()):
            copy = _without_values(recorded, data_marker, string_marker)
            redacted[name] = json.dumps(copy, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        elif name == LAST_APPLIED:
            redacted[name] = string_marker
        else:
            redacted[name] = text
    return {**meta, "annotations": redacted}


def is_secret(group: str, kind: str) -> bool:
    return (group, kind) in {("", "Secret"), ("bitnami.com", "SealedSecret")}


def redact(group: str, kind: str, desired: dict[str, Any] | None, live: dict[str, Any] | None,
           applied: Any = ABSENT) -> list[str]:
    """Replace, in place, every secret value by a marker that says only whether desired and live agree.

    No value, encoding or hash of a value survives, so nothing downstream (diffs, explain, jq error
    messages) can leak one. `stringData` in Git is compared with the base64 `data` the cluster keeps.
    SealedSecret ciphertext is not a secret, but it is long and opaque: it is treated the same way.
    Returns the keys whose values could not be compared (redacted in a snapshot).
    """
    if not is_secret(group, kind):
        return []
    want = _values(group, desired) if desired is not None else {}
    have = _values(group, live) if live is not None else {}
    d_out: dict[str, str] = {}
    l_out: dict[str, str] = {}
    for key in want.keys() | have.keys():
        if key in want and key in have:
            if have[key] == REDACTED.encode():
                d_out[key] = l_out[key] = NOT_COMPARED
            elif want[key] == have[key]:
                d_out[key] = l_out[key] = UNCHANGED
            else:
                d_out[key], l_out[key] = IN_GIT, CHANGED
        elif key in want:
            d_out[key] = IN_GIT
        else:
            l_out[key] = NOT_IN_GIT
    for body, out in ((desired, d_out), (live, l_out)):
        if body is not None:
            _store(group, body, {k: out[k] for k in sorted(out)})
    if isinstance(applied, dict):
        _store(group, applied, dict.fromkeys(sorted(_values(group, applied)), IN_GIT))
    if group == "":
        for body in (desired, live, applied):
            if isinstance(body, dict):
                _without_other_values(body)
    return sorted(k for k, v in l_out.items() if v == NOT_COMPARED)


def _without_other_values(secret: dict[str, Any]) -> None:
    """Values outside data/stringData, in place: an annotation recording a copy, a field no Secret has."""
    for name, value in secret.items():
        if name == "metadata" and isinstance(value, dict):
            secret[name] = _metadata(value, IN_GIT, IN_GIT)
        elif name not in _SECRET_FRAME and name != "data":
            secret[name] = dict.fromkeys(value, IN_GIT) if isinstance(value, dict) else IN_GIT


def _values(group: str, body: dict[str, Any]) -> dict[str, bytes]:
    """Comparable bytes per key, popping the value fields out of `body`."""
    if group == "bitnami.com":
        spec = body.get("spec")
        spec = spec if isinstance(spec, dict) else {}
        enc = spec.get("encryptedData") or {}
        return {str(k): str(v).encode() for k, v in enc.items()} if isinstance(enc, dict) else {}
    out: dict[str, bytes] = {}
    data = body.get("data") or {}
    if isinstance(data, dict):
        for k, v in data.items():
            out[str(k)] = _decode(v)
    string_data = body.pop("stringData", None) or {}
    if isinstance(string_data, dict):
        for k, v in string_data.items():
            out[str(k)] = str(v if v is not None else "").encode()
    return out


def _decode(value: Any) -> bytes:
    text = str(value if value is not None else "")
    if text == REDACTED:
        return text.encode()
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def _store(group: str, body: dict[str, Any], markers: dict[str, str]) -> None:
    if group == "bitnami.com":
        spec = body.get("spec")
        if isinstance(spec, dict) and ("encryptedData" in spec or markers):
            spec["encryptedData"] = markers
        return
    if "data" in body or markers:
        body["data"] = markers
