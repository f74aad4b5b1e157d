"""Flux's own ignore rules as driftcheck rules: `Kustomization.spec.ignore` and
`HelmRelease.spec.driftDetection.ignore` have one shape (fluxcd/pkg `ssa/jsondiff.IgnoreRule`).

Each entry is `paths` (RFC 6901 pointers, `""` the whole object) and an optional `target`: group,
version, kind, name and namespace regexes, each anchored as `^(?:…)$` (`jsondiff.anchorRegex`; an empty
one matches anything), plus Kubernetes label and annotation selectors. No target: every object of the
app. An entry becomes one `IgnoreRule` (compiled and applied by `compare.rules`): the key regexes as its
`fluxTarget`, the selectors and paths as jq path expressions.

Where driftcheck is not exact: `target.version` is not matched (the compared body no longer carries its
apiVersion, so such a rule selects every version); the selectors are evaluated on each side (Git's
object and the live one) and a path ignored on either side is ignored, where Flux evaluates them once on
the server-side dry-run object (Git's labels over the live ones).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from driftcheck.flux.objects import FluxObjectError, mapping_of
from driftcheck.model import IgnoreRule

_KEY_FIELDS = ("group", "kind", "name", "namespace")
_TERM = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*)|\s(in|notin)\s*"
                   r"\(([^)]*)\))?\s*$")


def ignore_rules(entries: Any, where: str) -> tuple[IgnoreRule, ...]:
    """The entries of a Flux ignore list (`where` names it: `Kustomization NS/NAME: spec.ignore`) as
    rules; FluxObjectError naming the first malformed entry (Flux's apply fails on it too)."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise FluxObjectError(f"{where} is not a list")
    return tuple(_rule(entry, f"{where}[{i}]") for i, entry in enumerate(entries))


def _rule(entry: Any, where: str) -> IgnoreRule:
    if not isinstance(entry, Mapping):
        raise FluxObjectError(f"{where} is not a mapping")
    paths = entry.get("paths")
    if not isinstance(paths, list) or not paths:
        raise FluxObjectError(f"{where} needs paths")
    target = entry.get("target")
    if target is not None and not isinstance(target, Mapping):
        raise FluxObjectError(f"{where}: target is not a mapping")
    target = mapping_of(target)
    cond = _selects(target, where)
    try:
        exprs = [f"select({cond})" + (_jq_path(str(p)) if p else "") for p in paths]
    except FluxObjectError as e:
        raise FluxObjectError(f"{where}: {e}") from None
    keys = {k: str(target[k]) for k in _KEY_FIELDS if target.get(k)}
    for key, pattern in keys.items():
        try:
            re.compile(pattern)
        except re.error as e:
            raise FluxObjectError(f"{where}: target.{key} {pattern[:60]!r} is not a regex: {e}") from None
    return IgnoreRule({"group": "*", "kind": "*", "jqPathExpressions": exprs,
                       **({"fluxTarget": keys} if keys else {})})


def _selects(target: Mapping[str, Any], shown: str) -> str:
    """The label and annotation selectors as a jq condition (the key fields are the rule's fluxTarget)."""
    conds = ["true"]
    for key, field in (("labelSelector", "labels"), ("annotationSelector", "annotations")):
        if target.get(key):
            conds.append(_selector(str(target[key]), field, f"{shown}: target.{key}"))
    return " and ".join(conds)


def _selector(text: str, field: str, shown: str) -> str:
    """A Kubernetes label selector (`a=b,c!=d,e in (f,g),!h,i`) as a jq condition on metadata.<field>."""
    terms, depth, start = [], 0, 0
    for i, c in enumerate(text + ","):
        depth += c == "("
        depth -= c == ")"
        if c == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    conds = []
    for term in terms:
        m = _TERM.match(term)
        if not m or (m[1] and (m[3] or m[5])):
            raise FluxObjectError(f"{shown}: {term.strip()[:60]!r} is not a selector term")
        key = json.dumps(m[2])
        has = f"((.metadata.{field} // {{}}) | has({key}))"
        value = f"((.metadata.{field} // {{}})[{key}])"
        if m[3]:
            op = "!=" if m[3] == "!=" else "=="
            conds.append(f"({value} {op} {json.dumps(m[4])})")
        elif m[5]:
            values = json.dumps([v.strip() for v in m[6].split(",")])
            inside = f"({has} and ({value} as $v | {values} | index([$v]) != null))"
            conds.append(inside if m[5] == "in" else f"(({inside}) | not)")
        else:
            conds.append(f"({has} | not)" if m[1] else has)
    return "(" + " and ".join(conds or ["true"]) + ")"


def _jq_path(pointer: str) -> str:
    """An RFC 6901 pointer as a jq path: a number indexes a list, or names a key of a map."""
    if not pointer.startswith("/"):
        raise FluxObjectError(f"ignore path {pointer[:60]!r} is not a JSON pointer (it starts with /)")
    steps = []
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        key = json.dumps(part)
        index = f'(if type == "array" then .[{part}] else .[{key}] end)'
        steps.append(index if part.isdigit() else f".[{key}]")
    return " | " + " | ".join(steps)
