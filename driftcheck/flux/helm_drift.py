"""How helm-controller's drift detection decides what is compared, as driftcheck rules and policies.

`spec.driftDetection.ignore` entries become the app's ignore rules through `flux.ignore_rules`, the
converter `Kustomization.spec.ignore` shares (same shape: fluxcd/pkg `ssa/jsondiff.IgnoreRule`).
`policy` skips an object whose Git copy carries `helm.toolkit.fluxcd.io/driftDetection: disabled` (label
or annotation, any case: `jsondiff.ExclusionSelector`), every object of a release whose
`driftDetection.mode` is `disabled`, and checks only the presence of a `crds/` CRD under the Create policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftcheck.flux.ignore_rules import ignore_rules as flux_ignore_rules
from driftcheck.flux.objects import HELM_GROUP, mapping_of
from driftcheck.flux.policies import Policy, any_in_metadata
from driftcheck.model import App, IgnoreRule, Resource

DRIFT_KEY = f"{HELM_GROUP}/driftDetection"


def ignore_rules(spec: Mapping[str, Any], shown: str) -> tuple[IgnoreRule, ...]:
    """The driftDetection.ignore entries as rules; FluxObjectError naming the entry that is malformed."""
    return flux_ignore_rules(mapping_of(spec.get("driftDetection")).get("ignore"),
                             f"{shown}: spec.driftDetection.ignore")


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

