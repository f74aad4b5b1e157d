"""Kubernetes label selectors (`-l/--selector`): Git's objects are chosen as the API server chooses live ones.

Grammar as kubectl takes it: comma-separated requirements `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
`k notin (a,b)`, `k` (exists) and `!k` (does not exist). `!=` and `notin` also match objects without the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from driftcheck.model import DriftcheckError

_KEY = r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_REQUIREMENT = re.compile(
    rf"^(?:!\s*(?P<absent>{_KEY})|(?P<key>{_KEY})\s*(?:(?P<op>==|=|!=)\s*(?P<value>{_VALUE})"
    rf"|\s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\))?)$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "in" (also = and ==), "notin" (also !=), "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.op == "in":
            return present and labels[self.key] in self.values
        if self.op == "notin":
            return not present or labels[self.key] not in self.values
        return present if self.op == "exists" else not present


def parse_selector(text: str) -> list[Requirement]:
    """The requirements of a selector; DriftcheckError names the one that does not parse."""
    requirements = []
    for part in _split(text):
        m = _REQUIREMENT.match(part.strip())
        if m is None:
            raise DriftcheckError(f"--selector {text!r}: cannot parse {part.strip()!r}")
        if m["absent"]:
            requirements.append(Requirement(m["absent"], "!"))
        elif m["op"]:
            requirements.append(Requirement(m["key"], "notin" if m["op"] == "!=" else "in",
                                            frozenset([m["value"]])))
        elif m["setop"]:
            values = frozenset(v.strip() for v in m["values"].split(","))
            if not all(re.fullmatch(_VALUE, v) for v in values):
                raise DriftcheckError(f"--selector {text!r}: bad value in {part.strip()!r}")
            requirements.append(Requirement(m["key"], m["setop"], values))
        else:
            requirements.append(Requirement(m["key"], "exists"))
    return requirements


def selects(requirements: list[Requirement], body: dict[str, Any]) -> bool:
    """Whether an object's metadata.labels satisfy every requirement (an empty selector selects all)."""
    labels = (body.get("metadata") or {}).get("labels") or {}
    labels = {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
    return all(r.matches(labels) for r in requirements)


def _split(text: str) -> list[str]:
    """Split on the commas between requirements, not those inside `in (a,b)`."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip() or parts:
        parts.append(current)
    return parts
