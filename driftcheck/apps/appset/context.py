"""What ApplicationSet generators share: the param set type, the cluster record, the run's context
(engine, tree, clusters, string renderer), their two errors, and generator `values`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from driftcheck.apps.appset.template import TemplateError
from driftcheck.fetch.tree import Tree

Params = dict[str, Any]


class GeneratorError(ValueError):
    """A generator ArgoCD would fail: the ApplicationSet generates nothing."""


class Skip(ValueError):
    """A generator driftcheck cannot evaluate offline (the message says why)."""


@dataclass(frozen=True)
class Cluster:
    """A cluster as the clusters generator sees it: an ArgoCD cluster Secret's data and metadata."""

    name: str
    server: str
    project: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Context:
    """What generators read: the engine, this repository's tree, the clusters, how to render strings."""

    go_template: bool
    tree: Tree | None
    is_this_repo: Callable[[str], bool]
    clusters: Sequence[Cluster]
    # renders (template, params) pairs with the ApplicationSet's engine, in order; strict=True is
    # missingkey=error whatever the options say. A failed job is its TemplateError.
    render: Callable[[Sequence[tuple[str, Params]], bool], list[str | TemplateError]]

    def rendered(self, jobs: Sequence[tuple[str, Params]]) -> list[str]:
        """Every job rendered, or the first failure raised."""
        out = self.render(jobs, False)
        for result in out:
            if isinstance(result, TemplateError):
                raise result
        return [str(r) for r in out]


def with_values(params: Params, values: Any, ctx: Context) -> Params:
    """appendTemplatedValues: each generator `values` entry rendered against params (not other values)."""
    if not isinstance(values, dict) or not values:
        return params
    keys = list(values)
    rendered = ctx.rendered([(str(values[k]), params) for k in keys])
    out = dict(params)
    if ctx.go_template:
        out["values"] = dict(zip(keys, rendered, strict=True))
    else:
        out.update({f"values.{k}": v for k, v in zip(keys, rendered, strict=True)})
    return out


def flatten(params: Mapping[str, Any] | list[Any], prefix: str = "") -> Params:
    """Nested params as dotted keys (maps `a.b`, lists `a.0`), empty maps and lists dropped."""
    out: Params = {}
    items = params.items() if isinstance(params, Mapping) else enumerate(params)
    for k, v in items:
        key = f"{prefix}{k}"
        if isinstance(v, dict | list):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out
