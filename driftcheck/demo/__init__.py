"""The bundled example: a small GitOps repository with dated history and a realistic live snapshot of it."""
