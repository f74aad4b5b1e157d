"""What kustomize-controller does to each built object before applying it: `postBuild` substitution, its
owner labels, then `commonMetadata` (which wins on a shared key), in the controller's order.

Substitution (fluxcd/pkg `kustomize/kustomize_varsub.go`) runs only when the Kustomization has variables
(or `substituteStrategy: Always`), and not on an object labelled or annotated
`kustomize.toolkit.fluxcd.io/substitute: disabled`. The variables are those `substituteFrom` gave, read
from the run's cluster (`variables.py`), then the inline `substitute` map over them. When a
substituteFrom object was not read (no cluster, forbidden, not in the snapshot), a reference to a variable
nothing known gives is left in the object as `${NAME}` and reported (`unresolved.py`), never filled with a
default or an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftcheck.flux import envsubst
from driftcheck.flux.objects import OWNER_NAME, OWNER_NAMESPACE, mapping_of
from driftcheck.model import FluxBuildOptions
from driftcheck.render.yaml import dump_yaml

# a `${NAME` or `${#NAME` reference not escaped by `$$`: enough to name what substituteFrom would give
_REFERENCE = re.compile(r"(?<!\$)\$\{#?([_a-zA-Z][_a-zA-Z0-9]*)")


class PostBuildError(ValueError):
    """The build fails as Flux's does: an invalid variable name, a substitution error (strict mode)."""


@dataclass
class Stamped:
    """One object as Flux applies it, and the variables left unresolved in it."""

    body: dict[str, Any]
    unresolved: list[str] = field(default_factory=list)


def post_build(body: dict[str, Any], options: FluxBuildOptions) -> Stamped:
    """body substituted (when Flux would), with the owner labels and commonMetadata set; PostBuildError
    with Flux's message when the substitution fails."""
    stamped = Stamped(body)
    if options.post_build:
        read = options.substituted_from
        values = {**(read.values if read else {}), **options.substitute}  # the inline map wins
        uncertain = read is None or bool(read.unreadable or read.failed)
        if options.substitute_from and uncertain and not envsubst.substitution_disabled(body):
            missing = sorted({n for n in _REFERENCE.findall(dump_yaml(body)) if n not in values})
            values.update({n: "${" + n + "}" for n in missing})  # kept visibly unresolved
            stamped.unresolved = missing
        # Flux substitutes when there are variables (len(vars) > 0) or with substituteStrategy: Always
        always = options.substitute_always or bool(values)
        try:
            stamped.body = envsubst.substitute_object(body, values, options.strict, always=always)
        except envsubst.SubstitutionError as e:
            raise PostBuildError(str(e)) from None
    owner = {OWNER_NAME: options.name, OWNER_NAMESPACE: options.namespace}
    stamped.body = _with_metadata(stamped.body, owner, {})
    if options.common_labels or options.common_annotations:
        stamped.body = _with_metadata(stamped.body, options.common_labels, options.common_annotations)
    return stamped


def _with_metadata(body: dict[str, Any], labels: Mapping[str, str],
                   annotations: Mapping[str, str]) -> dict[str, Any]:
    """body with these labels and annotations set over its own (a new dict; the input is not changed)."""
    meta = dict(mapping_of(body.get("metadata")))
    if labels:
        meta["labels"] = {**mapping_of(meta.get("labels")), **labels}
    if annotations:
        meta["annotations"] = {**mapping_of(meta.get("annotations")), **annotations}
    return {**body, "metadata": meta}
