"""helm-controller's release names: `[targetNamespace-]name`, releaseName as given, and past 53
characters the first 40, `-` and 12 hex digits of the sha256 (vectors: helm-controller's name_test.go)."""

from __future__ import annotations

import pytest

from driftcheck.flux.helmrelease import helm_release, shorten_name

VECTORS = [
    ("release-name", "release-name"),
    ("release-name-with-very-long-name-which-is-longer-than-53-characters",
     "release-name-with-very-long-name-which-i-788ca0d0d7b0"),
    ("another-release-name-with-very-long-name-which-is-longer-than-53-characters",
     "another-release-name-with-very-long-name-7e72150d5a36"),
    ("", ""),
]


@pytest.mark.parametrize(("name", "expected"), VECTORS)
def test_shorten_name_matches_helm_controller(name: str, expected: str) -> None:
    assert shorten_name(name) == expected
    assert len(shorten_name(name)) <= 53


def body(**spec: object) -> dict[str, object]:
    return {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": "flux-system"},
            "spec": {"chart": {"spec": {"chart": "web",
                                        "sourceRef": {"kind": "HelmRepository", "name": "r"}}}, **spec}}


def test_target_namespace_prefixes_the_name_and_is_the_release_namespace() -> None:
    release = helm_release(body(targetNamespace="podinfo"), "")
    assert (release.release_name, release.release_namespace, release.storage_namespace) == \
        ("podinfo-web", "podinfo", "flux-system")
    assert helm_release(body(releaseName="x", targetNamespace="p"), "").release_name == "x"
    long = helm_release(body(targetNamespace="a-namespace-with-a-rather-long-name-indeed"), "")
    assert long.release_name == shorten_name("a-namespace-with-a-rather-long-name-indeed-web")


def test_crd_policy_defaults_and_skip() -> None:
    assert helm_release(body(), "").crd_policy() == "Create"
    assert helm_release(body(install={"crds": "Skip"}), "").crd_policy() == "Skip"
    assert helm_release(body(upgrade={"crds": "CreateReplace"}), "").crd_policy() == "CreateReplace"
    assert helm_release(body(install={"skipCRDs": True}), "").crd_policy() == "Skip"
