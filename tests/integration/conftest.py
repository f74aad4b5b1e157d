"""Fixtures for integration tests: a running Kubernetes API emulator and a kubeconfig with a bearer token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.k8s_emulator import BLOG_SYSTEM_LIVE, KubernetesEmulator


@pytest.fixture
def k8s_api() -> Iterator[KubernetesEmulator]:
    """An empty emulator serving the default types (core kinds, Argo Rollouts, Istio, Sealed Secrets)."""
    with KubernetesEmulator(token="test-bearer-token") as api:
        yield api


@pytest.fixture
def blog_api(k8s_api: KubernetesEmulator) -> KubernetesEmulator:
    """The emulator holding blog-system's live objects (Deployment, Rollout, DestinationRule, Secret, ...)."""
    k8s_api.load_yaml(BLOG_SYSTEM_LIVE)
    return k8s_api


@pytest.fixture
def kubeconfig(k8s_api: KubernetesEmulator, tmp_path: Path) -> Path:
    """A kubeconfig (context `emulator`) whose user presents the emulator's bearer token."""
    return k8s_api.write_kubeconfig(tmp_path / "kubeconfig", context="emulator")
