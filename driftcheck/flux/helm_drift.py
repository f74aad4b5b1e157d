"""How helm-controller's drift detection decides what is compared, as driftcheck rules and policies.

`spec.driftDetection.ignore` entries (fluxcd/pkg `ssa/jsondiff`: RFC 6901 `paths`, `""` the whole object;
a `target` whose group, version, kind, name and namespace are regexes anchored as `^(?:…)$`, plus
Kubernetes label and annotation selectors) become the app's ignore rules (`IgnoreRule`, compiled and
applied by `compare.rules`): the key regexes as the rule's `fluxTarget`, the selectors and paths as jq path
expressions. `target.version` is not matched: the compared body no longer carries its apiVersion.
`policy` skips an object whose Git copy carries `helm.toolkit.fluxcd.io/driftDetection: disabled` (label
or annotation, any case: `jsondiff.ExclusionSelector`), every object of a release whose
`driftDetection.mode` is `disabled`, and checks only the presence of a `crds/` CRD under the Create policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from driftcheck.flux.objects import HELM_GROUP, FluxObjectError, mapping_of
from driftcheck.flux.policies import Policy, any_in_metadata
from driftcheck.model import App, IgnoreRule, Resource

DRIFT_KEY = f"{HELM_GROUP}/driftDetection"
_KEY_FIELDS = ("group", "kind", "name", "namespace")
_TERM = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*)|\s(in|notin)\s*"
                   r"\(([^)]*)\))?\s*$")


def ignore_rules(spec: Mapping[str, Any], shown: str) -> tuple[IgnoreRule, ...]:
    """The driftDetection.ignore entries as rules; FluxObjectError naming the entry that is malformed."""
    rules = []
    for i, entry in enumerate(mapping_of(spec.get("driftDetection")).get("ignore") or ()):
        rule = mapping_of(entry)
        paths = rule.get("paths")
        if not isinstance(paths, list) or not paths:
            raise FluxObjectError(f"{shown}: spec.driftDetection.ignore[{i}] needs paths")
        where = f"{shown}: spec.driftDetection.ignore[{i}]"
        target = mapping_of(rule.get("target"))
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
        rules.append(IgnoreRule({"group": "*", "kind": "*", "jqPathExpressions": exprs,
                                 **({"fluxTarget": keys} if keys else {})}))
    return tuple(rules)


def policy(app: App, desired: Resource) -> Policy | None:
    """("skip", why) for what helm-controller does not compare, ("presence", why) for a CRD it only
    creates; None: compared as usual."""
    release = app.primary.render.helm_release
    if release is None:
        return None
    chart_crd = (desired.key.group_kind == ("apiextensions.k8s.io", "CustomResourceDefinition")
                 and "/templates/" not in f"/{desired.origin.file}")
    if release.drift_detection == "disabled":
        return "skip", ("not compared: the HelmRelease sets spec.driftDetection.mode: disabled "
                        "(helm-controller neither detects nor corrects drift)")
    if any_in_metadata(desired.body, DRIFT_KEY, "disabled"):
        return "skip", (f"not compared: Git sets {DRIFT_KEY}: disabled (helm-controller leaves it out of "
                        "drift detection)")
    if chart_crd and release.crds == "Create":
        return "presence", ("only presence is checked: a CRD of the chart's crds/ under the CRD policy "
                            "Create (created when absent, never updated)")
    return None


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
