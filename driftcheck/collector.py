"""The cyclic garbage collector, tuned for a run's data.

A run builds hundreds of thousands of dicts and lists (parsed manifests, API answers, results) that all live
until its reports are written and hold no cycles. At Python's default thresholds (700, 10, 10) the collector
rescans them in full again and again as they pile up: a fifth of a 20-cluster run's CPU (bench.fleet).
Young collections ten times rarer leave the collector to the cycles it exists for; the stages that hold
the bulk of the data until the end (the rendered desired state, the live objects) also `gc.freeze()` it.
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 10, 10)


def tune() -> None:
    """Set the thresholds for this process (forked workers inherit them)."""
    gc.set_threshold(*THRESHOLDS)
