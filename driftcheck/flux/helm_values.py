"""A HelmRelease's user values, exactly as helm-controller computes them (fluxcd/pkg `chartutil`
`ChartValuesFromReferences`, `MergeMaps`, `ReplacePathValue`, `ReplacePathLiteralValue`).

`read_layers` reads each `valuesFrom` entry in order (kind ConfigMap or Secret in the HelmRelease's
namespace, `valuesKey` default `values.yaml`; an object or key that is missing is an error unless
`optional`; one the run's cluster holds but driftcheck may not read is an error even then);
`user_values` merges them: without `targetPath` the text is YAML deep-merged over what came before
(maps merge, the rest is replaced); with one, the inline values are merged in first and the text is
written at the path by Helm's strvals (`--set` typing; quoted text as a string; `literal` verbatim);
the inline `spec.values` go on top last. Maps are shared between the merged result and the inline
values the way Go shares them, so a nested `targetPath` wins over inline as in Flux, and a top-level
one does not.

The strvals parser is Helm's own, in the Helm SDK worker (`render.helm_pool`); YAML alone is merged here.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from driftcheck.flux.helmrelease import HelmRelease
from driftcheck.flux.objects import FluxObjectError, mapping_of
from driftcheck.model import ValuesLayer

DEFAULT_VALUES_KEY = "values.yaml"
_ESCAPED = str.maketrans({"\\": "\\\\", ",": "\\,", "[": "\\[", "]": "\\]", "{": "\\{", "}": "\\}"})


@dataclass(frozen=True)
class Found:
    """A ConfigMap's or Secret's data (Secret values decoded) and where it was read."""

    data: Mapping[str, str]
    where: str  # "in Git, clusters/x.yaml:3", "in context prod"
    unreadable: str = ""  # why the cluster's object could not be read (data then empty): never guessed


Lookup = Callable[[str, str, str], Found | None]  # (kind, namespace, name) -> the object, None if absent


class ValuesError(FluxObjectError):
    """A valuesFrom entry helm-controller could not resolve."""


def read_layers(release: HelmRelease, lookup: Lookup, cluster: str = "") -> tuple[ValuesLayer, ...]:
    """The valuesFrom entries read, in order; ValuesError naming the HelmRelease and the object.
    cluster: where lookup reads what Git does not hold ("": no cluster is read)."""
    layers = []
    for i, entry in enumerate(release.spec.get("valuesFrom") or ()):
        ref = mapping_of(entry)
        kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        key = str(ref.get("valuesKey") or DEFAULT_VALUES_KEY)
        optional = ref.get("optional") is True
        shown = f"{kind} {release.namespace}/{name}"
        if kind not in ("ConfigMap", "Secret") or not name:
            raise ValuesError(f"{release}: spec.valuesFrom[{i}] needs kind ConfigMap or Secret and a name")
        found = lookup(kind, release.namespace, name)
        if found is not None and found.unreadable:  # even when optional: it may exist and hold values
            raise ValuesError(f"{release}: spec.valuesFrom[{i}] {shown} is not in Git and could not be read "
                              f"from {found.where}: {found.unreadable}; not rendered")
        if found is None or key not in found.data:
            if optional:
                continue
            absent = f"does not exist in Git or in {cluster}" if cluster else \
                "does not exist in Git (no cluster is read)"
            what = absent if found is None else \
                f"({found.where}) has no key {key!r}"
            raise ValuesError(f"{release}: spec.valuesFrom[{i}] {shown} {what}; not rendered (Flux "
                              "fails the release; optional: true would skip it)")
        layers.append(ValuesLayer(f"{shown} key {key} ({found.where})", found.data[key],
                                  str(ref.get("targetPath") or ""), ref.get("literal") is True))
    return tuple(layers)


def merge_maps(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """chartutil.MergeMaps: a new top-level map; nested maps of b merged into copies, others shared."""
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_maps(out[k], v)
            continue
        out[k] = v
    return out


ReadYaml = Callable[[str, str], dict[str, Any]]  # (text, shown) -> the map
SetPath = Callable[[dict[str, Any], str, bool], None]  # strvals ParseInto / ParseIntoString an expression


def compute(layers: tuple[ValuesLayer, ...], inline: Mapping[str, Any], read_yaml: ReadYaml,
            set_path: SetPath) -> dict[str, Any]:
    """ChartValuesFromReferences over layers already read."""
    values = json.loads(json.dumps(dict(inline)))  # private: the targetPath writes reach it as in Go
    result: dict[str, Any] = {}
    for layer in layers:
        if layer.target_path:
            result = merge_maps(result, values)
            if layer.literal:
                set_path(result, f"{layer.target_path}={layer.text.translate(_ESCAPED)}", True)
            elif layer.text[:1] in ("'", '"') and layer.text.endswith(layer.text[0]):
                set_path(result, f"{layer.target_path}={layer.text.strip(chr(39) + chr(34))}", True)
            else:
                set_path(result, f"{layer.target_path}={layer.text}", False)
            continue
        result = merge_maps(result, read_yaml(layer.text, layer.shown))
    return merge_maps(result, values)


def user_values(layers: tuple[ValuesLayer, ...], inline: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    """The merged user values; a targetPath needs Helm's strvals: computed in the SDK worker then.
    ValuesError naming the layer that does not parse."""
    from driftcheck.render.yaml import YAMLStreamError, load_single

    if not any(layer.target_path for layer in layers):
        def read(text: str, shown: str) -> dict[str, Any]:
            try:
                parsed = load_single(text) if text.strip() else {}
            except YAMLStreamError as e:
                raise ValuesError(f"valuesFrom {shown}: not valid YAML: {e.problem}") from None
            if parsed is None:
                return {}
            if not isinstance(parsed, dict):
                raise ValuesError(f"valuesFrom {shown}: not a map of values")
            return parsed

        return compute(layers, inline, read, _no_path)
    from driftcheck.render import helm_pool
    from driftcheck.render.helm_run import HelmError

    try:
        merged: dict[str, Any] = json.loads(helm_pool.POOL.render(compute_in_worker, (layers, dict(inline)),
                                                                  timeout))
    except HelmError as e:
        raise ValuesError(f"valuesFrom: {e}") from None
    return merged


def _no_path(_values: dict[str, Any], _expr: str, _string: bool) -> None:
    raise AssertionError("no targetPath in these layers")


def compute_in_worker(layers: tuple[ValuesLayer, ...], inline: dict[str, Any]) -> str:
    """In a Helm SDK worker: compute() with Helm's YAML reader and strvals, as JSON."""
    import helm_python

    from driftcheck.render.helm_run import HelmError
    from driftcheck.render.helm_sdk import parse_into

    def read(text: str, shown: str) -> dict[str, Any]:
        try:
            return dict(helm_python.values_from_yaml(text) or {})
        except helm_python.errors.HelmError as e:
            raise HelmError(f"{shown}: {e}") from None

    key = helm_python.parse_set_string_values

    def set_path(values: dict[str, Any], expr: str, string: bool) -> None:
        try:
            parse_into(values, expr, key if string else helm_python.parse_set_string, key)
        except helm_python.errors.HelmError as e:
            raise HelmError(f"targetPath {expr.partition('=')[0]}: {e}") from None

    return json.dumps(compute(layers, inline, read, set_path))


def secret_data(body: Mapping[str, Any]) -> dict[str, str]:
    """A Secret's values as the API server holds them: `data` decoded, `stringData` over it."""
    out: dict[str, str] = {}
    for key, value in mapping_of(body.get("data")).items():
        try:
            out[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
    out.update({str(k): str(v) for k, v in mapping_of(body.get("stringData")).items()})
    return out


def config_map_data(body: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in mapping_of(body.get("data")).items()}
