"""Comparison: normalization, ignore rules, the diff, attribution, secret redaction; pure, no I/O.

The verdict is "what would applying Git change", as ArgoCD's diff would say:

- Server fields, `status` and bookkeeping (last-applied, tracking id, revisions) never count.
- Desired is authoritative for what it sets. A field only live has is a default or another
  controller's, unless the GitOps side set it before: in last-applied-configuration, or owned by a
  GitOps manager's *Apply* entry in managedFields (Update entries also own the server's defaults,
  so they cannot tell). Then it is "removed from Git, still live".
- Lists of the built-in API merge by their keys; other lists are atomic (replaced whole on apply).
  A custom resource's spec lists are atomic too: content Git lacks inside them is drift, unless the
  GitOps tool wrote the list last (then it is what the CRD schema defaulted).
- null in Git is "absent" on built-in kinds (ArgoCD round-trips them through their Go types) and
  "remove it" on custom resources (the seed scenario's `labels: null`).
- Ignore rules are resolved to concrete paths on each side; the walk reports what they suppress.

Entry points: `compare_app`, `CompareOptions`, `load_rules`/`RuleSet`, `available_packs`,
`coverage`, `explain`.
"""

from driftcheck.compare.coverage import coverage
from driftcheck.compare.engine import CompareOptions, compare_app
from driftcheck.compare.explain import explain
from driftcheck.compare.rules import RuleSet, available_packs, load_rules

__all__ = ["CompareOptions", "RuleSet", "available_packs", "compare_app", "coverage", "explain", "load_rules"]
