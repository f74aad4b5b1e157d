"""List matching: which desired item is which live item (merge keys, positions, order-insensitive sets)."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from driftcheck.compare.pointer import dig

KeyFn = Callable[[Any], Hashable]


def _field(name: str, default: Any = None) -> KeyFn:
    return lambda item: item.get(name, default) if isinstance(item, dict) else None


def _fields(*spec: tuple[str, Any]) -> KeyFn:
    return lambda item: (tuple(_str(item.get(n, d)) for n, d in spec) if isinstance(item, dict) else None)


def _str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# The strategic-merge / server-side-apply keys of the built-in API, by list field name.
BY_NAME = frozenset({"containers", "initContainers", "ephemeralContainers", "volumes", "env",
                     "imagePullSecrets", "resourceClaims", "schedulingGates", "webhooks"})
ENDPOINT_SETS = frozenset({"subsets", "addresses", "notReadyAddresses", "ports"})
ROUTE_LISTS = frozenset({("spec", "http"), ("spec", "tcp"), ("spec", "tls")})
CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})
FIXED: dict[str, KeyFn] = {
    "volumeMounts": _field("mountPath"),
    "volumeDevices": _field("devicePath"),
    "hostAliases": _field("ip"),
    "readinessGates": _field("conditionType"),
    "tolerations": _fields(("key", None), ("effect", None)),
    "topologySpreadConstraints": _fields(("topologyKey", None), ("whenUnsatisfiable", None)),
    "finalizers": lambda item: item if isinstance(item, str) else None,
    "volumeClaimTemplates": lambda item: dig(item, "metadata", "name"),
}


@dataclass
class Matching:
    """Pairs of (desired index, live index), either None; `atomic` lists replace as a whole on apply."""

    pairs: list[tuple[int | None, int | None]]
    atomic: bool


def key_for(names: tuple[str, ...], group: str, kind: str, items: list[list[Any]]) -> KeyFn | None:
    """The merge key of the list at `names` in an object of `group`/`kind`, if every item has one."""
    if not names:
        return None
    last, parent = names[-1], names[-2] if len(names) > 1 else ""
    fn: KeyFn | None = None
    if last in BY_NAME:
        fn = _field("name")
    elif last in FIXED:
        fn = FIXED[last]
    elif last == "ports" and parent in CONTAINER_LISTS:
        fn = _fields(("containerPort", None), ("protocol", "TCP"))
    elif last == "ports" and (group, kind) == ("", "Service") and names == ("spec", "ports"):
        fn = _fields(("port", None), ("protocol", "TCP"))
    elif group == "networking.istio.io" and kind == "DestinationRule" and names == ("spec", "subsets"):
        fn = _field("name")
    elif group == "networking.istio.io" and kind == "VirtualService" and names in ROUTE_LISTS:
        fn = _field("name")  # routes are matched by name only when every route has one
    if fn is None:
        return None
    for lst in items:
        keys = [fn(item) for item in lst]
        if any(k is None for k in keys) or len(set(map(_hashable, keys))) != len(keys):
            return None
    return lambda item: _hashable(fn(item))


def _hashable(value: Any) -> Hashable:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def match(names: tuple[str, ...], group: str, kind: str, desired: list[Any], live: list[Any]) -> Matching:
    """Align two lists the way the API server merges them on apply."""
    if (group, kind) == ("", "Endpoints") and names and names[-1] in ENDPOINT_SETS:
        return _sorted_pairs(desired, live)
    fn = key_for(names, group, kind, [desired, live])
    if fn is None:
        n = max(len(desired), len(live))
        return Matching([(i if i < len(desired) else None, i if i < len(live) else None) for i in range(n)],
                        atomic=True)
    live_index = {fn(item): i for i, item in enumerate(live)}
    pairs: list[tuple[int | None, int | None]] = []
    seen: set[int] = set()
    for i, item in enumerate(desired):
        j = live_index.get(fn(item))
        pairs.append((i, j))
        if j is not None:
            seen.add(j)
    pairs.extend((None, j) for j in range(len(live)) if j not in seen)
    return Matching(pairs, atomic=False)


def find_item(names: tuple[str, ...], group: str, kind: str, items: list[Any], like: Any,
              position: int) -> int | None:
    """The index in `items` of the item that `like` merges with (same key, or same position)."""
    fn = key_for(names, group, kind, [items, [like]])
    if fn is None:
        return position if position < len(items) else None
    wanted = fn(like)
    return next((i for i, item in enumerate(items) if fn(item) == wanted), None)


def _sorted_pairs(desired: list[Any], live: list[Any]) -> Matching:
    """Endpoints subsets, their addresses and ports are sets the API server repacks and reorders:
    compare them sorted, and as a whole (they are atomic on apply)."""
    def order(items: list[Any]) -> list[int]:
        return sorted(range(len(items)), key=lambda i: json.dumps(_canon_subset(items[i]), sort_keys=True))

    d, lv = order(desired), order(live)
    n = max(len(d), len(lv))
    return Matching([(d[i] if i < len(d) else None, lv[i] if i < len(lv) else None) for i in range(n)],
                    atomic=True)


def _canon_subset(subset: Any) -> Any:
    if not isinstance(subset, dict):
        return subset
    out = dict(subset)
    for name in ("addresses", "notReadyAddresses"):
        if isinstance(out.get(name), list):
            out[name] = sorted(out[name], key=lambda a: json.dumps(a, sort_keys=True))
    if isinstance(out.get("ports"), list):
        out["ports"] = sorted(out["ports"], key=lambda p: json.dumps(p, sort_keys=True))
    return out
