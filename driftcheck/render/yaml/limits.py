"""The bounds every loader of the dialect keeps to: file size, nesting, nodes after alias expansion."""

from __future__ import annotations

from collections.abc import Iterable

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 500  # Kubernetes objects, CRD schemas included, stay far below this
MAX_NODES = 2_000_000  # after alias expansion; a billion-laughs document blows past it at once
# The C composer recurses on the C stack; below this nesting bound it is known to be safe.
C_SAFE_DEPTH_BOUND = 5000


def nesting_bound(chunk: bytes) -> int:
    """A cheap upper bound on nesting depth: flow brackets plus the longest line (block indentation)."""
    longest = max((len(line) for line in chunk.split(b"\n")), default=0)
    return chunk.count(b"[") + chunk.count(b"{") + longest


def check_depth(events: Iterable[object]) -> None:
    """Walk parser events (iterative, no C recursion) and refuse documents nested beyond MAX_DEPTH."""
    depth = 0
    for event in events:
        name = type(event).__name__
        if name in ("MappingStartEvent", "SequenceStartEvent"):
            depth += 1
            if depth > MAX_DEPTH:
                raise RecursionError
        elif name in ("MappingEndEvent", "SequenceEndEvent"):
            depth -= 1
