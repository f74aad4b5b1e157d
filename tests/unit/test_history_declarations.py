"""Deploys made in an Application file: chart bumps, another repository's revision, Helm parameters and
values, and a wrapper chart's dependency bump, as `driftcheck history` prints them."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from driftcheck.cli import main

SEALED = "https://bitnami-labs.github.io/sealed-secrets"


def chart_app(version: str, parameters: str = "", name: str = "sealed-secrets", header: str = "") -> str:
    return f"""{header}apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: {SEALED}
    chart: sealed-secrets
    targetRevision: {version}
    helm:
      releaseName: sealed-secrets-controller{parameters}
  destination:
    server: https://kubernetes.default.svc
    namespace: kube-system
"""


OTHER = """---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: other
spec:
  source:
    repoURL: https://charts.example.com
    chart: other
    targetRevision: 1.0.0
  destination:
    namespace: other
"""


def history(repo: Any, *args: str) -> Any:
    result = CliRunner().invoke(main, ["history", "--repo", str(repo.path), "--argocd-apps", "argocd/*.yaml",
                                       *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def events(repo: Any, app: str = "sealed-secrets") -> list[dict[str, Any]]:
    doc = json.loads(history(repo, "-o", "json"))
    return next(a for a in doc["apps"] if a["app"] == app)["events"]


def test_a_chart_version_bump_is_a_deploy_with_author_date_and_commit(git_repo: Any) -> None:
    first = git_repo.commit({"argocd/sealed-secrets.yaml": chart_app("2.16.1")}, "add sealed-secrets",
                            date="2026-01-10T10:00:00+00:00")
    bump = git_repo.commit({"argocd/sealed-secrets.yaml": chart_app("2.16.2", header="# pinned\n\n")},
                           "bump sealed-secrets", date="2026-01-20T10:00:00+00:00",
                           author="Ops <ops@example.com>")
    found = events(git_repo)
    assert [(e["commit"], e["author"], e["date"]) for e in found] == [
        (bump, "Ops <ops@example.com>", "2026-01-20T10:00:00+00:00"),
        (first, "Dev <dev@example.com>", "2026-01-10T10:00:00+00:00")]
    assert found[0]["sources"] == [{"kind": "chart", "name": "sealed-secrets",
                                    "field": "spec.source.targetRevision", "from": "2.16.1", "to": "2.16.2",
                                    "file": "argocd/sealed-secrets.yaml"}]
    text = history(git_repo)
    assert "chart sealed-secrets 2.16.1 → 2.16.2" in text
    assert "chart sealed-secrets (none) → 2.16.1" in text  # the Application's first deploy
    assert f"sealed-secrets (chart sealed-secrets 2.16.1 from {SEALED})" not in text
    assert "sealed-secrets (chart sealed-secrets 2.16.2" in text


def test_edits_that_deploy_nothing_are_not_events_and_other_apps_in_the_file_are_not_this_ones(
        git_repo: Any) -> None:
    git_repo.commit({"argocd/sealed-secrets.yaml": chart_app("2.16.1")}, "add")
    git_repo.commit({"argocd/sealed-secrets.yaml": chart_app("2.16.1") + "  # a comment\n"}, "comment only")
    git_repo.commit({"argocd/sealed-secrets.yaml": chart_app("2.16.1") + OTHER}, "another app, same file")
    moved = OTHER.replace("1.0.0", "1.1.0") + "---\n" + chart_app("2.16.1")  # this app's line moves down
    bump_other = git_repo.commit({"argocd/sealed-secrets.yaml": moved}, "bump other")
    assert [e["message"] for e in events(git_repo)] == ["add"]
    [other_bump, other_added] = events(git_repo, "other")
    assert other_bump["commit"] == bump_other
    assert other_bump["sources"][0]["from"] == "1.0.0" and other_bump["sources"][0]["to"] == "1.1.0"
    assert other_added["message"] == "another app, same file"


def test_a_revert_and_a_rollback_of_a_chart_bump_are_marked(git_repo: Any) -> None:
    first = git_repo.commit({"argocd/sealed-secrets.yaml": chart_app("2.16.1")}, "add",
                            date="2026-01-10T10:00:00+00:00")
    bump = git_repo.commit({"argocd/sealed-secrets.yaml": chart_app("2.16.2")}, "bump",
                           date="2026-01-11T10:00:00+00:00")
    back = git_repo.commit({"argocd/sealed-secrets.yaml": chart_app("2.16.1")},
                           f'Revert "bump"\n\nThis reverts commit {bump[:10]}.',
                           date="2026-01-12T10:00:00+00:00")
    found = events(git_repo)
    assert [e["commit"] for e in found] == [back, bump, first]
    assert found[0]["revert_of"] == bump
    assert found[0]["restores"] == first
    assert found[1]["restores"] is None
    text = history(git_repo)
    assert f"reverts {bump[:12]}" in text and f"restores the state of {first[:12]} (rollback)" in text


def test_helm_parameters_and_values_object_changes_say_which_field_changed(git_repo: Any) -> None:
    tag = "\n      parameters:\n        - name: image.tag\n          value: '{}'\n" \
          "        - name: auth.password\n          value: {}\n      valuesObject:\n        replicas: {}\n"
    file = "argocd/sealed-secrets.yaml"
    git_repo.commit({file: chart_app("2.16.1", tag.format("0.27.1", "s3cr3t-one", 1))}, "add")
    git_repo.commit({file: chart_app("2.16.1", tag.format("0.27.2", "s3cr3t-two", 2))}, "new tag")
    [changed, _] = events(git_repo)
    assert {(s["name"], s["from"], s["to"]) for s in changed["sources"]} == {
        ("parameter image.tag", "0.27.1", "0.27.2"), ("parameter auth.password", "(changed)", "(changed)"),
        ("valuesObject /replicas", "1", "2")}
    text = history(git_repo)
    assert "helm parameter image.tag: 0.27.1 → 0.27.2" in text
    assert "helm valuesObject /replicas: 1 → 2" in text
    assert "s3cr3t" not in text and "s3cr3t" not in history(git_repo, "-o", "json")


def test_an_application_renamed_to_another_file_keeps_its_history(git_repo: Any) -> None:
    first = git_repo.commit({"argocd/ss.yaml": chart_app("2.16.1")}, "add")
    git_repo.commit({"argocd/ss.yaml": None, "argocd/sealed-secrets.yaml": chart_app("2.16.1")}, "rename")
    bump = git_repo.commit({"argocd/sealed-secrets.yaml": chart_app("2.16.2")}, "bump")
    assert [e["commit"] for e in events(git_repo)] == [bump, first]


WRAPPER = """apiVersion: v2
name: my-kube-prometheus-stack
version: {own}
dependencies:
  - name: kube-prometheus-stack
    version: {version}  # pinned
    repository: https://prometheus-community.github.io/helm-charts
"""


def test_a_wrapper_charts_dependency_bump_names_the_dependency_and_versions(git_repo: Any) -> None:
    git_repo.commit({"apps/kps/Chart.yaml": WRAPPER.format(own="1.0.0", version="64.0.0"),
                     "apps/kps/values.yaml": "a: 1\n"}, "add")
    bump = git_repo.commit({"apps/kps/Chart.yaml": WRAPPER.format(own="1.0.1", version="65.0.0")}, "bump")
    result = CliRunner().invoke(main, ["history", "--repo", str(git_repo.path), "--path", "apps/kps", "-o",
                                       "json"], catch_exceptions=False)
    [app] = json.loads(result.output)["apps"]
    assert app["events"][0]["commit"] == bump
    assert [(s["kind"], s["name"], s["from"], s["to"]) for s in app["events"][0]["sources"]] == [
        ("chart", "my-kube-prometheus-stack", "1.0.0", "1.0.1"),
        ("dependency", "kube-prometheus-stack", "64.0.0", "65.0.0")]
    assert "sources" not in app["events"][1]  # the chart's first commit: its files, as before
    text = CliRunner().invoke(main, ["history", "--repo", str(git_repo.path), "--path", "apps/kps"]).output
    assert "dependency kube-prometheus-stack 64.0.0 → 65.0.0" in text
