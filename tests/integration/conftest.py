"""Fixtures for integration tests: a running Kubernetes API emulator and a kubeconfig with a bearer token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_emulator import KubernetesEmulator

from driftcheck.live.connection import RetryPolicy

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BLOG_SYSTEM_LIVE = FIXTURES / "blog-system-live.yaml"

# Retries as in production but with short waits, so fault tests stay fast; Retry-After is still honoured.
FAST_RETRY = RetryPolicy(attempts=4, backoff=0.05, max_backoff=0.2, connect_deadline=5.0)


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
