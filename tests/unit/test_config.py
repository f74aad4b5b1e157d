"""driftcheck.yaml and ArgoCD Applications → apps; mistakes name file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftcheck import scrub
from driftcheck.apps.argocd import apps_from_argocd
from driftcheck.apps.config import load_config
from driftcheck.apps.urls import infer_repo_urls, normalize_repo_url
from driftcheck.model import (
    App,
    AppSource,
    ChartSource,
    DefinedBy,
    Destination,
    DirectoryOptions,
    DriftcheckError,
    GitSource,
    HelmOptions,
    IgnoreRule,
    Render,
    ValuesFile,
)
from testing import planted

GOOD = """\
repo: https://github.com/org/gitops.git
argocdApps: argocd/*.yaml
historySince: 30d
gitopsManagers: [argocd-controller]
rules:
  packs: [argo-rollouts, istio]
  files: [rules/team.yaml]
apps:
  - name: web
    path: apps/web
    namespace: shop
    recurse: true
    ignoreDifferences:
      - group: apps
        kind: Deployment
        jsonPointers: [/spec/replicas]
  - name: chart
    path: charts/api
    valuesFiles: [values-prod.yaml]
    releaseName: api
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftcheck.yaml"
    path.write_text(text)
    return path


def test_a_full_config_loads(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    file = str(tmp_path / "driftcheck.yaml")
    assert cfg.apps == [
        App("web", (AppSource(GitSource(path="apps/web"),
                              Render(directory=DirectoryOptions(recurse=True), helm=HelmOptions())),),
            Destination(namespace="shop"),
            (IgnoreRule({"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}),),
            defined_by=DefinedBy("config", file, 9)),
        App("chart", (AppSource(GitSource(path="charts/api"), Render(helm=HelmOptions(
            release_name="api", values_files=(ValuesFile("values-prod.yaml"),)))),),
            defined_by=DefinedBy("config", file, 17)),
    ]
    assert str(cfg.apps[0].defined_by) == f"{file}:9", "reports show where the app was declared as file:line"
    assert type(cfg.apps[0].ignore[0].spec) is dict, "plain data, not ruamel containers"
    assert cfg.rule_packs == ["argo-rollouts", "istio"] and cfg.rule_files == ["rules/team.yaml"]
    assert cfg.gitops_managers == ["argocd-controller"]
    assert (cfg.argocd_apps, cfg.history_since, cfg.repo) == ("argocd/*.yaml", "30d",
                                                              "https://github.com/org/gitops.git")


@pytest.mark.parametrize(("text", "line", "words"), [
    ("apps:\n  - name: web\n    path: a\n    namspace: x\n", 4, "unknown key 'namspace'"),
    ("apps:\n  - name: web\n", 2, "needs a path"),
    ("apps:\n  - name: web\n    path: a\n  - name: web\n    path: b\n", 4, "defined twice"),
    ("apps: web\n", 1, "must be a list"),
    ("rules:\n  packs: istio\n  file: x\n", 3, "unknown key 'file'"),
    ("apps:\n  - name: web\n    path: a\n    recurse: maybe\n", 4, "true or false"),
    ("apps:\n  - name: web\n    path: [a\n", 4, "malformed YAML"),
    ("gitopsManagers: [1, 2]\n", 1, "list of strings"),
])
def test_mistakes_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DriftcheckError) as failure:
        load_config(path)
    message = str(failure.value)
    assert message.startswith(f"{path}:{line}: ") and words in message and "\n" not in message


def test_missing_config_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DriftcheckError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def application(name: str, **source: object) -> dict[str, object]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name},
            "spec": {"source": {"repoURL": "https://github.com/org/gitops.git", **source},
                     "destination": {"namespace": f"{name}-ns"}}}


def test_applications_become_apps_with_their_sources_and_the_unsupported_are_skipped() -> None:
    helm = application("api", path="charts/api",
                       helm={"valueFiles": ["values-prod.yaml"], "releaseName": "r"})
    multi = application("multi")
    multi["spec"]["sources"] = [  # type: ignore[index]
        {"repoURL": "https://charts.example.com", "chart": "web", "targetRevision": "^1.2",
         "helm": {"valueFiles": ["$values/web/values.yaml"]}},
        {"repoURL": "https://github.com/org/gitops.git", "targetRevision": "main", "ref": "values"}]
    docs = [
        (application("web", path="apps/web", directory={"recurse": True}), "argocd/web.yaml", 3),
        (helm, "argocd/api.yaml", 1),
        (application("other", path="x", repoURL="https://github.com/org/other.git", targetRevision="^2",
                     tagPrefix="prod/"), "argocd/o.yaml", 1),
        (application("redis", chart="redis", repoURL="https://charts.bitnami.com/bitnami",
                     targetRevision="18.1.0"), "argocd/r.yaml", 1),
        (multi, "argocd/m.yaml", 1),
        ({**application("set"), "kind": "ApplicationSet"}, "argocd/s.yaml", 1),
        (application("web", path="apps/web2"), "argocd/dup.yaml", 1),
        (application("plug", plugin={"name": "cmp"}), "argocd/p.yaml", 1),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}, "argocd/cm.yaml", 1),
    ]
    apps, skipped = apps_from_argocd(docs, {"git@github.com:org/gitops"})
    by_name = {a.name: a for a in apps}
    assert list(by_name) == ["web", "api", "other", "redis", "multi"]
    assert by_name["web"].sources == (AppSource(
        GitSource("", "", "apps/web"),
        Render(directory=DirectoryOptions(recurse=True), helm=HelmOptions(), declared=("directory",))),)
    assert by_name["api"].sources[0].render.helm == HelmOptions(release_name="r",
                                                                values_files=(ValuesFile("values-prod.yaml"),))
    assert by_name["api"].defined_by == DefinedBy("argocd-application", "argocd/api.yaml", 1)
    assert by_name["other"].sources[0].source == GitSource("https://github.com/org/other.git", "^2", "x",
                                                           tag_prefix="prod/")
    assert by_name["redis"].sources[0].source == ChartSource("https://charts.bitnami.com/bitnami", "redis",
                                                             "18.1.0")
    chart, values = by_name["multi"].sources
    assert chart.source == ChartSource("https://charts.example.com", "web", "^1.2") and chart.renders
    assert (values.source, values.ref, values.renders) == (GitSource(path=""), "values", False)
    assert by_name["multi"].local_source is None and by_name["multi"].path == ""
    reasons = {s.name: s.reason for s in skipped}
    assert set(reasons) == {"set", "web", "plug"}
    assert "ApplicationSet" in reasons["set"] and "plugin" in reasons["plug"]
    assert "argocd/web.yaml:3" in reasons["web"]


@pytest.mark.parametrize(("sources", "reason"), [
    ([{"repoURL": "x", "path": "a", "ref": "v"}, {"repoURL": "y", "ref": "v"}], "same `ref` key (v)"),
    ([{"repoURL": "x", "ref": "no/slash"}], "ref 'no/slash'"),
    ([{"repoURL": "oci://registry.example.com/manifests", "path": "."}], "OCI artifact sources"),
    (["not a mapping"], "spec.sources[0] is not a mapping"),
])
def test_sources_argocd_refuses_skip_the_app_with_its_reason(sources: list[object], reason: str) -> None:
    app = application("bad")
    app["spec"]["sources"] = sources  # type: ignore[index]
    apps, skipped = apps_from_argocd([(app, "argocd/bad.yaml", 1)], {"https://github.com/org/gitops.git"})
    assert apps == [] and reason in skipped[0].reason and skipped[0].origin == "argocd/bad.yaml:1"


@pytest.mark.parametrize("url", ["https://github.com/Org/Repo.git", "https://github.com/Org/Repo/",
                                 "git@github.com:Org/Repo.git", "ssh://git@github.com/Org/Repo",
                                 "https://user:tok@GitHub.com/Org/Repo"])
def test_one_repository_many_spellings(url: str) -> None:
    assert normalize_repo_url(url) == "github.com/Org/Repo"


def test_this_repository_is_guessed_from_the_applications_and_said_so() -> None:
    docs = [(application(n), "a.yaml", 1) for n in ("a", "b")]
    urls, note = infer_repo_urls(docs, {"/srv/bundle"})
    assert "https://github.com/org/gitops.git" in urls and "2 of 2" in note
    urls, note = infer_repo_urls(docs, {"git@github.com:org/gitops.git"})
    assert note == "" and urls == {"git@github.com:org/gitops.git"}


def test_the_guess_note_never_shows_a_token_of_the_clone_url() -> None:
    """A mirror's clone URL can carry a token (a local clone's remote); the note masks it."""
    token = planted.secret("clone-url-token")
    docs = [(application("a"), "a.yaml", 1)]
    urls, note = infer_repo_urls(docs, {f"https://x-access-token:{token}@mirror.example/org/gitops.git"})
    assert "https://github.com/org/gitops.git" in urls
    assert token not in note and "https://***@mirror.example/org/gitops.git" in note


def test_a_token_in_the_configs_repo_is_known_to_the_scrubber(tmp_path: Path) -> None:
    token = planted.secret("config-repo-token")
    config = planted.write_input(tmp_path / "driftcheck.yaml", f"repo: https://ci:{token}@git.example/g.git\n")
    assert load_config(config).repo.endswith("@git.example/g.git")
    assert scrub.scrub(f"fatal: auth failed for {token}") == "fatal: auth failed for ***"
