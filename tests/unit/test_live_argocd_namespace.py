"""--argocd-namespace from a --live-snapshot that holds ArgoCD's namespace: Applications, argocd-cm and the
secret-type Secrets become the run's apps, settings, clusters and fetch credentials; repository Secrets
read live are matched as a --repo-creds file's are, and a file given explicitly replaces them."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from driftcheck import scrub
from driftcheck.apps.live_apps import chosen_settings, live_applications
from driftcheck.commands.options import ClusterOptions, FetchOptions, SourceOptions
from driftcheck.fetch.repo_credentials import live_repo_credentials
from driftcheck.fetch.sources import SourceTrees
from driftcheck.kube import REDACTED
from driftcheck.live.snapshot import write_snapshot
from driftcheck.model import LiveState, Origin, Resource, ResourceKey


def labelled_secret(secret: str, kind: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": secret, "namespace": "argocd",
                         "labels": {"argocd.argoproj.io/secret-type": kind}},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


APPLICATION = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
               "metadata": {"name": "web", "namespace": "argocd"},
               "spec": {"source": {"repoURL": "https://git.example.com/x.git", "path": "web"},
                        "destination": {"name": "eu", "namespace": "web"}}}
ARGOCD_CM = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "argocd-cm", "namespace": "argocd"},
             "data": {"application.resourceTrackingMethod": "label"}}


def snapshot(tmp_path: Path, *bodies: dict[str, Any]) -> Path:
    resources = [Resource(ResourceKey.of(b), b["apiVersion"], b, Origin("cluster")) for b in bodies]
    path = tmp_path / "live.yaml"
    write_snapshot(LiveState(resources=resources, info={"server": "https://argocd.example.com"}), path,
                   include_secret_values=True)
    return path


def read(path: Path) -> Any:
    lines: list[str] = []
    live = live_applications(SourceOptions(argocd_namespace="argocd"), ClusterOptions(live_snapshot=path),
                             lines.append)
    assert live is not None
    return live, lines


def test_a_snapshot_of_argocds_namespace_gives_the_whole_instance(tmp_path: Path) -> None:
    live, lines = read(snapshot(
        tmp_path, APPLICATION, ARGOCD_CM,
        labelled_secret("eu", "cluster", name="eu", server="https://eu.example.com",
                        config='{"bearerToken": "snap-token"}'),
        labelled_secret("charts", "repository", url="https://charts.example.com", type="helm",
                        username="bot", password="snap-password")))
    assert [where for _, where, _ in live.applications] == ["cluster Application argocd/web"]
    assert [c.name for c in live.clusters.clusters] == ["eu"]
    assert live.clusters.by_server["https://eu.example.com"].credentials.bearer_token == "snap-token"
    credential = live.repo_credentials.for_url("https://charts.example.com", "helm")
    assert (credential.username, credential.source) == ("bot", "Secret argocd/charts (repository charts)")
    assert "snap-password" not in scrub.scrub("snap-password")
    settings, where = chosen_settings(None, None, live)  # type: ignore[arg-type]
    assert settings.tracking_method == "label"
    assert where.startswith("ConfigMap argocd/argocd-cm in the cluster")
    assert lines[-1] == "argocd secrets: 1 clusters, 1 repository credentials in namespace argocd"
    assert not live.notes


def test_redacted_secrets_of_a_snapshot_are_set_aside_with_a_note(tmp_path: Path) -> None:
    redacted = labelled_secret("eu", "cluster", name="eu", server="https://eu.example.com")
    redacted["data"] = dict.fromkeys(redacted["data"], REDACTED)
    live, _ = read(snapshot(tmp_path, APPLICATION, redacted))
    assert live.notes == [  # nor did this snapshot capture ConfigMaps: said, never taken as "no argocd-cm"
        f"ConfigMap argocd/argocd-cm not read: not captured in snapshot {tmp_path / 'live.yaml'}",
        "1 Secrets in argocd of the snapshot are redacted: not used"]
    assert not live.clusters.clusters and not live.clusters.errors


def test_a_repository_secret_without_a_url_is_named_and_the_others_are_kept() -> None:
    credentials, problems = live_repo_credentials([
        labelled_secret("broken", "repository", username="u"),
        labelled_secret("org", "repo-creds", url="https://git.example.com/org", password="p-1"),
        labelled_secret("eu", "cluster", server="https://eu.example.com")], "argocd")
    assert problems == ["Secret argocd/broken: repository broken: no url"]
    found = credentials.for_url("https://git.example.com/org/app.git", "git")
    assert found is not None and found.password == "p-1"


def test_a_repo_creds_file_given_explicitly_replaces_the_live_secrets(tmp_path: Path) -> None:
    live, _ = live_repo_credentials([labelled_secret("org", "repo-creds", url="https://git.example.com/org",
                                                     password="live-pw")], "argocd")
    file = tmp_path / "creds.yaml"
    file.write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\n  labels:\n"
                    "    argocd.argoproj.io/secret-type: repo-creds\nstringData:\n"
                    "  url: https://git.example.com/other\n  password: file-pw\n")
    url = "https://git.example.com/org/app.git"
    assert SourceTrees(None, live_credentials=live)._credentials().for_url(url, "git") is not None  # type: ignore[arg-type]
    explicit = SourceTrees(None, FetchOptions(repo_credentials=file), live_credentials=live)  # type: ignore[arg-type]
    assert explicit._credentials().for_url(url, "git") is None


def test_argocd_settings_given_explicitly_win_over_the_live_configmap(tmp_path: Path) -> None:
    live, _ = read(snapshot(tmp_path, APPLICATION, ARGOCD_CM))
    given = tmp_path / "argocd-cm.yaml"
    given.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm}\n"
                     "data: {application.resourceTrackingMethod: annotation+label}\n")
    settings, where = chosen_settings(str(given), None, live)  # type: ignore[arg-type]
    assert settings.tracking_method == "annotation+label"
    assert where == f"{given} (local file); ConfigMap argocd/argocd-cm not used"
