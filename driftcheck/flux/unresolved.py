"""Objects that reference a `substituteFrom` variable driftcheck could not read: never reported as drift.

The build keeps such a reference visibly as `${NAME}` (postbuild.py). The value Flux applied is in a
ConfigMap or Secret this run could not read, so a field it reaches says nothing about drift: that field
is left out of the differences and the object is `unknown` with the reason, unless another field
differs anyway (then it is `drifted`, and the reason names what was not compared).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from driftcheck.flux import envsubst
from driftcheck.model import FluxBuildOptions, ResourceResult
from driftcheck.render.yaml import dump_yaml

_PLACEHOLDER = re.compile(r"\$\{([_a-zA-Z][_a-zA-Z0-9]*)\}")


def unresolved_names(options: FluxBuildOptions | None, body: dict[str, Any]) -> list[str]:
    """The substituteFrom variables body still holds as `${NAME}` because their source was not read."""
    if options is None or not options.post_build or not options.substitute_from:
        return []
    read = options.substituted_from
    if read is not None and not read.unreadable and not read.failed:
        return []  # every source was read: what is left is what Flux leaves
    if envsubst.substitution_disabled(body):
        return []
    known = {**(read.values if read else {}), **options.substitute}
    return sorted({n for n in _PLACEHOLDER.findall(dump_yaml(body)) if n not in known})


def unresolved_reason(options: FluxBuildOptions, names: list[str]) -> str:
    """`variable NAME from ConfigMap NS/NAME not readable (why)`, for every source it may come from."""
    read = options.substituted_from
    shown = ", ".join(f"${{{n}}}" for n in names)
    noun = "variable" if len(names) == 1 else "variables"
    if read is None:
        froms = " or ".join(f"{kind} {options.namespace}/{name}" for kind, name, _ in options.substitute_from)
        return f"{noun} {shown} from {froms} not read (no cluster is read for substituteFrom in this run)"
    if read.failed:
        return f"{noun} {shown} not resolved: {read.failed}"
    froms = " or ".join(f"{source} not readable ({why})" for source, why in read.unreadable)
    return f"{noun} {shown} from {froms}"


def narrowed(result: ResourceResult, names: list[str], reason: str) -> ResourceResult:
    """result without the differences an unresolved variable reaches; `unknown` when none is left."""
    marks = tuple(f"${{{n}}}" for n in names)

    def reached(value: Any) -> bool:
        return value is not None and any(m in (value if isinstance(value, str) else dump_yaml(value))
                                         for m in marks)

    if result.status == "missing":
        return result if not any(m in result.key.name for m in marks) else \
            replace(result, status="unknown", reason=reason)
    if result.status not in ("drifted", "in-sync"):
        return result
    kept = [d for d in result.diffs if not reached(d.desired)]
    joined = "; ".join(r for r in (result.reason, reason) if r)
    if kept:
        return replace(result, diffs=kept, reason=f"{joined} (its fields not compared)")
    return replace(result, status="unknown", diffs=[], reason=joined)
