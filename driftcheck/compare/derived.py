"""Relations derived from desired state that scope rules: HPA scale targets, Rollout traffic routing."""

from __future__ import annotations

from typing import Any

from driftcheck.compare.pointer import mapping
from driftcheck.model import Resource, ResourceKey, split_api_version

HPA_SCALE_TARGET = "hpa-scale-target"
ROLLOUT_VIRTUALSERVICE = "rollout-virtualservice"
RELATIONS = (HPA_SCALE_TARGET, ROLLOUT_VIRTUALSERVICE)
# Objects whose scaleTargetRef hands a workload's replica count to an autoscaler (KEDA makes an HPA).
SCALERS = frozenset({("autoscaling", "HorizontalPodAutoscaler"), ("keda.sh", "ScaledObject")})

Relations = dict[str, dict[ResourceKey, dict[str, Any]]]


def derive(desired: list[Resource]) -> Relations:
    """For each relation, the objects it names and the jq variables a rule may use ($routes).

    Derived from the desired objects, not from names: `spec.replicas` is ignored only on a
    workload that a HorizontalPodAutoscaler in Git targets.
    """
    out: Relations = {name: {} for name in RELATIONS}
    for res in desired:
        spec = res.body.get("spec")
        if not isinstance(spec, dict):
            continue
        ns = res.key.namespace
        if res.key.group_kind in SCALERS:
            ref = spec.get("scaleTargetRef") or {}
            if isinstance(ref, dict) and ref.get("name"):
                # a KEDA ScaledObject may omit apiVersion and kind: it then scales a Deployment
                group, _ = split_api_version(str(ref.get("apiVersion") or "apps/v1"))
                kind = str(ref.get("kind") or "Deployment")
                out[HPA_SCALE_TARGET][ResourceKey(group, kind, ns, str(ref["name"]))] = {}
        elif res.key.group_kind == ("argoproj.io", "Rollout"):
            for name, routes in _istio_virtual_services(spec):
                key = ResourceKey("networking.istio.io", "VirtualService", ns, name)
                known = out[ROLLOUT_VIRTUALSERVICE].setdefault(key, {"routes": []})
                known["routes"] = sorted(set(known["routes"]) | set(routes))
    return out


def _istio_virtual_services(spec: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(VirtualService name, route names) that a canary Rollout's Istio traffic routing moves weights in."""
    istio = mapping(spec, "strategy", "canary", "trafficRouting", "istio")
    many = istio.get("virtualServices")
    services = [istio.get("virtualService"), *(many if isinstance(many, list) else [])]
    out = []
    for vs in services:
        if isinstance(vs, dict) and vs.get("name"):
            name = str(vs["name"]).split(".")[0]  # "name.namespace" is allowed
            routes = vs.get("routes")
            out.append((name, [str(r) for r in routes] if isinstance(routes, list) else []))
    return out
