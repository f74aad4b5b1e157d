"""Comparison: normalization, ignore rules, the diff, attribution, secret redaction; pure, no I/O."""

from driftcheck.compare.coverage import coverage
from driftcheck.compare.engine import CompareOptions, compare_app
from driftcheck.compare.explain import explain
from driftcheck.compare.rules import RuleSet, available_packs, load_rules

__all__ = ["CompareOptions", "RuleSet", "available_packs", "compare_app", "coverage", "explain", "load_rules"]
