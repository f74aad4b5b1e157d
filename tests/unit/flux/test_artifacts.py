"""A source's artifact is shared read-only: a build's private export cannot change it or another build's."""

from __future__ import annotations

from pathlib import Path

from driftcheck.flux.artifacts import ArtifactTree


def test_builds_edit_their_own_kustomization_only(tmp_path: Path) -> None:
    root = tmp_path / "artifact"
    (root / "apps").mkdir(parents=True)
    (root / "apps" / "kustomization.yaml").write_text("resources:\n- web.yaml\n")
    (root / "apps" / "web.yaml").write_text("kind: ConfigMap\n")
    tree = ArtifactTree(root, "sha", "", [])
    with tree.exported(private=True) as (first, _), tree.exported(private=True) as (second, _):
        (first / "apps" / "kustomization.yaml").write_text("namespace: edited\n")
        (first / "apps" / "new.yaml").write_text("kind: Secret\n")
        assert (second / "apps" / "kustomization.yaml").read_text() == "resources:\n- web.yaml\n"
        assert not (second / "apps" / "new.yaml").exists()
        assert (second / "apps" / "web.yaml").read_text() == "kind: ConfigMap\n"
    assert (root / "apps" / "kustomization.yaml").read_text() == "resources:\n- web.yaml\n"
    assert not (root / "apps" / "new.yaml").exists()
    with tree.exported() as (shared, _):
        assert shared == root  # readers get the artifact itself, no copy
