"""ApplicationSet generators evaluated offline, with the parameters ArgoCD's generators produce.

list, clusters, git (directories and files), matrix and merge as `applicationset/generators/*.go`
write them, in both parameter shapes: flat string keys for the default engine (`path.basename`,
`path[0]`, `values.x`, `metadata.labels.env`), nested values for goTemplate. Generators that ask a
live service (scmProvider, pullRequest, clusterDecisionResource, plugin) raise `Skip` with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from driftcheck.apps.appset.context import (
    Cluster,
    Context,
    GeneratorError,
    Params,
    Skip,
    flatten,
    with_values,
)
from driftcheck.apps.appset.git import git_params
from driftcheck.apps.appset.template import TemplateError, sanitize_name
from driftcheck.render.yaml.stream import load_single

IN_CLUSTER = "https://kubernetes.default.svc"
LIVE_ONLY = {"scmProvider": "asks an SCM provider's API", "pullRequest": "asks an SCM provider's API",
             "clusterDecisionResource": "reads a resource in the cluster",
             "plugin": "calls a plugin's HTTP service"}


def kind_of(generator: Mapping[str, Any]) -> str:
    """The one generator an entry sets (ArgoCD: unrecognized generators are the ApplicationSet's error)."""
    kinds = [k for k, v in generator.items() if k not in ("selector", "template") and v is not None]
    if len(kinds) != 1:
        raise GeneratorError(f"unrecognized generator: {', '.join(kinds) or 'none given'}")
    return kinds[0]


def generate(generator: Mapping[str, Any], ctx: Context, *, nested: int = 0) -> list[Params]:
    """The param sets one generator entry yields, after its post-selector."""
    kind = kind_of(generator)
    spec = generator[kind]
    if kind in LIVE_ONLY:
        raise Skip(f"the {kind} generator {LIVE_ONLY[kind]}, which an offline audit does not")
    if not isinstance(spec, dict):
        raise GeneratorError(f"{kind}: not a mapping")
    if kind == "list":
        out = list_params(spec, ctx.go_template)
    elif kind == "clusters":
        out = cluster_params(spec, ctx)
    elif kind == "git":
        out = git_params(spec, ctx)
    elif kind in ("matrix", "merge"):
        if nested > 1:
            raise GeneratorError(f"{kind} nested more than two levels deep")
        out = matrix_params(spec, ctx, nested) if kind == "matrix" else merge_params(spec, ctx, nested)
    else:
        raise GeneratorError(f"unrecognized generator: {kind}")
    selector = generator.get("selector")
    if isinstance(selector, dict) and selector:
        out = [p for p in out if selector_matches(selector, flatten(p) if ctx.go_template else p)]
    return out


def list_params(spec: Mapping[str, Any], go_template: bool) -> list[Params]:
    """elements (then elementsYaml); the default engine takes string values only, `values` flattened."""
    elements = list(spec.get("elements") or [])
    if spec.get("elementsYaml"):
        extra = load_single(str(spec["elementsYaml"]))
        if not isinstance(extra, list):
            raise GeneratorError("error unmarshling decoded ElementsYaml: not a list")
        elements += extra  # appended as they are, whichever the engine
    out: list[Params] = []
    for i, element in enumerate(elements):
        if not isinstance(element, dict):
            raise GeneratorError(f"error unmarshling list element {i}: not an object")
        if go_template or i >= len(spec.get("elements") or []):
            out.append(dict(element))
            continue
        params: Params = {}
        for key, value in element.items():
            if key == "values":
                if not isinstance(value, dict):
                    raise GeneratorError("error parsing values map")
                for k, v in value.items():
                    if not isinstance(v, str):
                        raise GeneratorError(f"list element {i}: values.{k} is not a string")
                    params[f"values.{k}"] = v
            elif not isinstance(value, str):
                raise GeneratorError(f"list element {i}: {key} is not a string (the default templating "
                                     "takes strings only; use goTemplate)")
            else:
                params[key] = value
        out.append(params)
    return out


def cluster_params(spec: Mapping[str, Any], ctx: Context) -> list[Params]:
    """One param set per cluster the selector picks (de-duplicated by name, the last one wins), then the
    implicit in-cluster one when the selector is empty and no cluster has its URL."""
    selector: dict[str, Any] = spec["selector"] if isinstance(spec.get("selector"), dict) else {}
    by_name: dict[str, Cluster] = {}
    for cluster in ctx.clusters:
        if selector_matches(selector, dict(cluster.labels)):
            by_name[cluster.name] = cluster
    out: list[Params] = []
    for c in by_name.values():
        if ctx.go_template:
            p: Params = {"name": c.name, "nameNormalized": sanitize_name(c.name), "server": c.server,
                         "project": c.project,
                         "metadata": {"labels": dict(c.labels), "annotations": dict(c.annotations)}}
        else:
            p = {"name": c.name, "nameNormalized": sanitize_name(c.name), "server": c.server,
                 "project": c.project}
            p.update({f"metadata.labels.{k}": v for k, v in c.labels.items()})
            p.update({f"metadata.annotations.{k}": v for k, v in c.annotations.items()})
        out.append(with_values(p, spec.get("values"), ctx))
    if not selector and not any(c.server == IN_CLUSTER for c in ctx.clusters):
        local: Params = {"name": "in-cluster", "nameNormalized": "in-cluster", "server": IN_CLUSTER,
                         "project": ""}
        out.append(with_values(local, spec.get("values"), ctx))
    if spec.get("flatList"):
        return [{"clusters": out}]
    return out


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """A metav1.LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if key not in labels or str(labels[key]) != str(value):
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = [str(v) for v in expr.get("values") or []]
        has = key in labels
        if op == "In" and not (has and str(labels[key]) in values):
            return False
        if op == "NotIn" and has and str(labels[key]) in values:
            return False
        if (op == "Exists" and not has) or (op == "DoesNotExist" and has):
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise GeneratorError(f"selector: unknown operator {op!r}")
    return True


def interpolated(spec: Any, params: Params, ctx: Context) -> Any:
    """A child generator's spec with every string rendered against params (InterpolateGenerator)."""
    if not params:
        return spec
    strings: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, str):
            strings.append(node)
        elif isinstance(node, dict):
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)
    collect(spec)
    done = iter(ctx.rendered([(s, params) for s in strings]))

    def build(node: Any) -> Any:
        if isinstance(node, str):
            return next(done)
        if isinstance(node, dict):
            return {k: build(v) for k, v in node.items()}
        if isinstance(node, list):
            return [build(v) for v in node]
        return node
    return build(spec)


def _children(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [c for c in spec.get("generators") or [] if isinstance(c, dict)]


def matrix_params(spec: Mapping[str, Any], ctx: Context, nested: int) -> list[Params]:
    """The cartesian product of two children, the second interpolated with each of the first's sets."""
    children = _children(spec)
    if len(children) != 2:
        raise GeneratorError(f"matrix generator must have exactly 2 child generators, found {len(children)}")
    out: list[Params] = []
    for a in generate(children[0], ctx, nested=nested + 1):
        child = children[1]
        second = _go_interpolated(child, a, ctx) if ctx.go_template else interpolated(child, a, ctx)
        for b in generate(second, ctx, nested=nested + 1):
            out.append(_combine(a, b, ctx.go_template))
    return out


def _go_interpolated(child: dict[str, Any], params: Params, ctx: Context) -> Any:
    """goTemplate (RenderGeneratorParams): the child's `values` resolved against params with
    missingkey=error, an entry that fails kept as written for the child's own params; the rest rendered."""
    kind = kind_of(child)
    body = dict(child[kind]) if isinstance(child[kind], dict) else child[kind]
    values = body.pop("values", None) if isinstance(body, dict) else None
    rendered = interpolated({**child, kind: body}, params, ctx)
    if isinstance(values, dict) and values and params:
        keys = list(values)
        results = ctx.render([(str(values[k]), params) for k in keys], True)
        rendered[kind]["values"] = {k: str(values[k]) if isinstance(r, TemplateError) else r
                                    for k, r in zip(keys, results, strict=True)}
    elif values is not None:
        rendered[kind]["values"] = values
    return rendered


def _combine(a: Params, b: Params, go_template: bool) -> Params:
    """Fasttemplate: a key in both with different values is ArgoCD's error; goTemplate: a deep merge
    where the first child's values win."""
    if not go_template:
        for k, v in b.items():
            if k in a and a[k] != v:
                raise GeneratorError(f"found duplicate key {k} with different value, a: {a[k]} ,b: {v}")
        return {**a, **b}
    return _deep_merge(b, a)


def _deep_merge(base: Params, over: Params) -> Params:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def merge_params(spec: Mapping[str, Any], ctx: Context, nested: int) -> list[Params]:
    """The first child's sets, each merged with the later children's set of equal merge keys."""
    keys = [str(k) for k in spec.get("mergeKeys") or []]
    if not keys:
        raise GeneratorError("mergeKeys: at least one merge key is required")
    children = _children(spec)
    if len(children) < 2:
        raise GeneratorError("merge generator must have at least 2 child generators")
    sets = [generate(c, ctx, nested=nested + 1) for c in children]
    indexed = [_by_keys(s, keys) for s in sets]
    base = indexed[0]
    for later in indexed[1:]:
        for key, params in later.items():
            if key in base:
                base[key] = _deep_merge(base[key], params) if ctx.go_template else {**base[key], **params}
    return list(base.values())


def _by_keys(sets: list[Params], keys: list[str]) -> dict[str, Params]:
    out: dict[str, Params] = {}
    for params in sets:
        key = json.dumps({k: params.get(k) for k in keys}, sort_keys=True)
        if key in out:
            raise GeneratorError(f"error getting param sets from child: non-unique params for merge keys "
                                 f"{', '.join(keys)}: {key}")
        out[key] = params
    return out
