"""Which managedFields entries kustomize-controller's next apply makes its own, for the three-way diff.

Before each apply the controller merges into its own Apply entry (fluxcd/pkg `ssa/patch.go`
PatchReplaceFieldsManagers, kustomize-controller `apply`): entries of a manager whose name *starts
with* `kubectl` (Apply or Update: `kubectl-edit`, `kubectl-patch`, `kubectl-client-side-apply`, ...),
`before-first-apply` (Update) and `kustomize-controller` (Update), never one recorded on a subresource;
none of that for an object marked `kustomize.toolkit.fluxcd.io/ssa: Merge`. So a field Git does not
set that a `kubectl edit` added is removed at the next apply: drift, attributed to that edit. A field
only another manager owns (an HPA, an operator) is left alone by Flux and is no drift; a field only
kustomize-controller owns that Git no longer sets is drift Flux has not applied yet, not someone's edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from driftcheck.flux.objects import KUSTOMIZE_GROUP
from driftcheck.flux.policies import any_in_metadata
from driftcheck.model import FieldDiff

if TYPE_CHECKING:  # compare.engine imports this module: a runtime import of compare would be a cycle
    from driftcheck.compare.managedfields import FieldNode, ManagedEntry

CONTROLLER = "kustomize-controller"
FLUX_MANAGERS = (CONTROLLER, "helm-controller")
# (name prefix, operations) PatchReplaceFieldsManagers takes over
TAKEN_OVER = (("kubectl", ("Apply", "Update")), ("before-first-apply", ("Update",)),
              (CONTROLLER, ("Update",)))
SSA = f"{KUSTOMIZE_GROUP}/ssa"
TAKEN_OVER_NOTE = ("not in Git: set by {} after Flux's apply; kustomize-controller takes kubectl's fields "
                   "over and removes it at its next apply")


def taken_over(entry: ManagedEntry) -> bool:
    """Whether the controller's next apply merges this entry into its own."""
    return not entry.subresource and any(entry.manager.startswith(prefix) and entry.operation in ops
                                         for prefix, ops in TAKEN_OVER)


def flux_owned(entries: list[ManagedEntry], desired: Mapping[str, Any]) -> list[tuple[str, FieldNode | None]]:
    """The (manager, fields) whose fields the next apply of desired owns: kustomize-controller's Apply
    entry, plus those it takes over unless desired is `ssa: Merge`."""
    merge = any_in_metadata(desired, SSA, "Merge")
    return [(e.manager, e.fields) for e in entries if not e.subresource and (
        (e.manager == CONTROLLER and e.operation == "Apply") or (not merge and taken_over(e)))]


def with_flux_note(diff: FieldDiff) -> FieldDiff:
    """A live-only field a kubectl edit added says so, instead of "removed from Git"."""
    who = diff.changed_by
    if diff.desired is None and who is not None and not who.subresource and who.manager != CONTROLLER \
            and any(who.manager.startswith(p) and who.operation in ops for p, ops in TAKEN_OVER):
        return replace(diff, note=TAKEN_OVER_NOTE.format(who.manager))
    return diff
