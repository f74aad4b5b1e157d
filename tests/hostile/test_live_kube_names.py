"""Namespaces and names Kubernetes could never hold are refused by `driftcheck.kube` with the reason."""

from __future__ import annotations

import pytest

from driftcheck import kube


@pytest.mark.parametrize("namespace", ["prod/secrets#", "x/../../secrets#", "..", "Prod", "-a", "a-",
                                       "a.b", "a b", "a\nb", "ns%2f", "", "a" * 64])
def test_a_namespace_that_could_rewrite_a_url_is_refused_with_a_reason(namespace: str) -> None:
    reason = kube.invalid_namespace(namespace)
    assert reason and isinstance(reason, str)


@pytest.mark.parametrize("namespace", ["prod", "blog-system", "a", "0", "a" * 63])
def test_ordinary_namespaces_are_accepted(namespace: str) -> None:
    assert kube.invalid_namespace(namespace) is None


@pytest.mark.parametrize(("kind", "name"), [
    ("ConfigMap", "a.b-c"), ("ConfigMap", "x" * 253), ("Deployment", "web"), ("Widget", "v1.example.com"),
    ("ClusterRole", "system:aggregate-to-view"), ("RoleBinding", "Any Case:ok"),
    ("Service", "web-1"), ("Namespace", "team-a"),
])
def test_valid_names_are_accepted_by_the_rule_of_their_kind(kind: str, name: str) -> None:
    assert kube.invalid_name(kind, name) is None


@pytest.mark.parametrize(("kind", "name"), [
    ("ConfigMap", "a/b"), ("ConfigMap", "x" * 254), ("ConfigMap", "UPPER"), ("Deployment", "a_b"),
    ("ClusterRole", "a/b"), ("ClusterRole", ".."), ("Role", "a%2fb"), ("Service", "1web"),
    ("Namespace", "a.b"), ("Secret", ""),
])
def test_invalid_names_are_refused_with_a_reason(kind: str, name: str) -> None:
    assert kube.invalid_name(kind, name)
