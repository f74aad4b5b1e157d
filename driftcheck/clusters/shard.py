"""`--shard INDEX/COUNT`: which destination clusters one Pod of an indexed Job audits.

A cluster belongs to shard `int(sha256(name)[:16 hex], 16) % COUNT`, `name` being the destination as the
cluster Secrets (or `--cluster DEST=`) name it. The assignment depends on nothing but the name and COUNT,
so every Pod of the Job agrees on it without talking to the others, and a cluster keeps its shard from
night to night as long as COUNT stays the same.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol, TypeVar

from driftcheck.model import DriftcheckError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def owns(self, cluster_name: str) -> bool:
        return shard_of(cluster_name, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """`INDEX/COUNT` with 0 <= INDEX < COUNT; anything else is a DriftcheckError saying what is expected."""
    match = _SHARD.match(text)
    if match is None:
        raise DriftcheckError(f"--shard {text[:40]!r}: expected INDEX/COUNT, two whole numbers such as 0/4")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1:
        raise DriftcheckError(f"--shard {text.strip()}: COUNT must be at least 1")
    if index >= count:
        raise DriftcheckError(f"--shard {text.strip()}: INDEX must be below COUNT (0 to {count - 1})")
    return Shard(index, count)


def shard_of(cluster_name: str, count: int) -> int:
    """The shard a cluster belongs to (see the module docstring); stable across runs and Python versions."""
    digest = hashlib.sha256(cluster_name.encode("utf-8")).hexdigest()
    return int(digest[:16], 16) % count


class _Named(Protocol):
    @property
    def name(self) -> str: ...


Named = TypeVar("Named", bound=_Named)


def select(runs: list[Named], shard: Shard | None) -> list[Named]:
    """The runs (anything with a `.name`) this shard audits; all of them without --shard."""
    if shard is None:
        return runs
    return [run for run in runs if shard.owns(run.name)]
