"""Version conversion: Git written in an older API version than the one the cluster was read in."""

from __future__ import annotations

from typing import Any


def to_live_version(desired: dict[str, Any], live_api_version: str) -> dict[str, Any]:
    """`desired` in the live object's version where their schemas differ (a copy when converted).

    The API server serves one object in every version of its kind, but the fields move between
    versions: an autoscaling/v1 HPA's targetCPUUtilizationPercentage is a metrics[] entry in v2.
    """
    api_version = desired.get("apiVersion")
    if desired.get("kind") == "HorizontalPodAutoscaler" and api_version == "autoscaling/v1" \
            and live_api_version.startswith("autoscaling/v2"):
        return _hpa_v1_to_v2(desired)
    return desired


def _hpa_v1_to_v2(desired: dict[str, Any]) -> dict[str, Any]:
    spec = dict(desired["spec"]) if isinstance(desired.get("spec"), dict) else {}
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}]
    return {**desired, "spec": spec}
