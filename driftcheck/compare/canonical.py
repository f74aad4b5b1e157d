"""Canonical scalars: Kubernetes quantities, int-or-string, null and empty containers as absent."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from driftcheck.compare.pointer import ABSENT

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))"
                       r"(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$")
_BINARY: dict[str, int] = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL: dict[str, Fraction | int] = {
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "k": 10**3,
    "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}

# Field names under which the API stores resource.Quantity values (pods, quotas, limit ranges, VPAs, HPAs).
QUANTITY_PARENTS = frozenset({
    "limits", "requests", "hard", "used", "capacity", "allocatable", "max", "min", "default",
    "defaultRequest", "maxLimitRequestRatio", "overhead", "maxAllowed", "minAllowed",
})
QUANTITY_FIELDS = frozenset({"sizeLimit", "storage", "averageValue"})
# Field names whose content is opaque user data: never canonicalised.
OPAQUE_PARENTS = frozenset({"data", "binaryData", "stringData", "labels", "annotations", "env"})


def parse_quantity(value: Any) -> Fraction | None:
    """'500m' -> 1/2, '1Gi' -> 1073741824, '1e3' -> 1000, 2 -> 2; None when not a quantity."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(value).limit_denominator(10**12)
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value.strip())
    if not match:
        return None
    number, exponent, suffix = match.groups()
    result = Fraction(number)
    if exponent:
        result *= Fraction(10) ** int(exponent[1:])
    if suffix:
        result *= Fraction(_BINARY.get(suffix) or _DECIMAL[suffix])
    return result


def is_empty(value: Any) -> bool:
    """Absent, null, {}, [] (and maps of only those) mean 'not set': the API server stores nothing."""
    if value is ABSENT or value is None:
        return True
    if isinstance(value, dict):
        return all(is_empty(v) for v in value.values())
    return isinstance(value, list) and not value


def _quantity_context(names: tuple[str, ...]) -> bool:
    if not names or any(n in OPAQUE_PARENTS for n in names[:-1]):
        return False
    parent = names[-2] if len(names) > 1 else ""
    return (names[-1] in QUANTITY_FIELDS or parent in QUANTITY_PARENTS
            or (parent, names[-1]) == ("target", "value"))


def scalars_equal(desired: Any, live: Any, names: tuple[str, ...]) -> bool:
    """Equal as the API server would store them; `names` are the map keys leading to the value."""
    if desired == live and type(desired) is type(live):
        return True
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired == live and isinstance(desired, bool) and isinstance(live, bool)
    if isinstance(desired, int | float) and isinstance(live, int | float):
        return desired == live
    opaque = any(n in OPAQUE_PARENTS for n in names[:-1])
    if not opaque and _int_or_string(desired) is not None and _int_or_string(desired) == _int_or_string(live):
        return True
    if _quantity_context(names):
        a, b = parse_quantity(desired), parse_quantity(live)
        return a is not None and a == b
    return False


def _int_or_string(value: Any) -> int | None:
    """An int field written as a quoted number in YAML ("8080") is the same int once stored."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return None
