"""Cluster side: Kubernetes API access and archived snapshots; knows nothing of Git."""
