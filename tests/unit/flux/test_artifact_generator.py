"""ArtifactGenerator objects read as source-watcher's controller validates them (validateSpec, the CRD)."""

from __future__ import annotations

from typing import Any

import pytest

from driftcheck.flux.artifact_generator import artifact_generator
from driftcheck.flux.objects import FluxObjectError, SourceRef


def body(spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
            "metadata": {"name": "gen", **meta}, "spec": spec}


SOURCES = [{"alias": "a", "kind": "GitRepository", "name": "repo"},
           {"alias": "b", "kind": "OCIRepository", "name": "oci", "namespace": "other"}]
COPY = [{"from": "@a/**", "to": "@artifact/"}]


def test_a_valid_generator() -> None:
    g = artifact_generator(body({"sources": SOURCES, "artifacts": [{"name": "out", "copy": COPY}]}),
                           "apps", "x.yaml:1")
    assert g.problem == ""
    assert g.sources == (("a", SourceRef("GitRepository", "apps", "repo")),
                         ("b", SourceRef("OCIRepository", "other", "oci")))
    assert [a.name for a in g.artifacts] == ["out"]


@pytest.mark.parametrize(("spec", "meta", "problem"), [
    ({"sources": [*SOURCES, SOURCES[0]]}, {}, "duplicate source alias 'a' found"),
    ({"artifacts": [{"name": "out", "copy": COPY}, {"name": "out", "copy": COPY}]}, {},
     "duplicate artifact name 'out' found"),
    ({"artifacts": [{"name": "out", "revision": "@c", "copy": COPY}]}, {},
     "artifact out revision source alias 'c' not found"),
    ({"artifacts": [{"name": "Out_1", "copy": COPY}]}, {}, "is not a valid Kubernetes object name"),
    ({"pathPattern": "@a/apps/{app}"}, {}, "spec.pathPattern"),
    ({"artifacts": [{"name": "out", "copy": [{"from": "@a/x", "to": "@artifact/", "strategy": "Copy"}]}]}, {},
     "strategy Copy is not one of Overwrite, Merge, Extract"),
    ({}, {"annotations": {"source.extensions.fluxcd.io/reconcile": "Disabled"}}, "reconcile: disabled"),
])
def test_what_the_controller_refuses(spec: dict[str, Any], meta: dict[str, Any], problem: str) -> None:
    full = {"sources": SOURCES, "artifacts": [{"name": "out", "copy": COPY}], **spec}
    assert problem in artifact_generator(body(full, **meta), "apps", "x.yaml:1").problem


def test_without_artifacts_nothing_can_be_named() -> None:
    with pytest.raises(FluxObjectError, match=r"spec\.artifacts must list at least one artifact"):
        artifact_generator(body({"sources": SOURCES}), "apps", "x.yaml:1")
