"""Flux: the graph of Kustomizations and sources a cluster directory roots, built as Flux's controllers
build them. One concept per module: `objects` (the Flux objects, typed), `root` (where the graph starts),
`graph` (children from each parent's rendered output), `generator` (the kustomization Flux edits or
generates), `build` (the `flux` renderer), `postbuild` (substitution, owner labels, commonMetadata),
`policies` (the per-object ssa/reconcile annotations comparison honours), `ignore_rules` (Flux's own
ignore rules as app rules), `envsubst` (Flux's dialect).
"""
