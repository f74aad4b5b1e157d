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


def test_applications_from_this_repo_become_apps_others_are_skipped_with_reasons() -> None:
    helm = application("api", path="charts/api",
                       helm={"valueFiles": ["values-prod.yaml"], "releaseName": "r"})
    multi = application("multi")
    multi["spec"]["sources"] = [{"repoURL": "x"}]  # type: ignore[index]
    docs = [
        (application("web", path="apps/web", directory={"recurse": True}), "argocd/web.yaml", 3),
        (helm, "argocd/api.yaml", 1),
        (application("other", path="x", repoURL="https://github.com/org/other.git"), "argocd/o.yaml", 1),
        (application("redis", chart="redis", repoURL="https://charts.bitnami.com/bitnami"),
         "argocd/r.yaml", 1),
        (multi, "argocd/m.yaml", 1),
        ({**application("set"), "kind": "ApplicationSet"}, "argocd/s.yaml", 1),
        (application("web", path="apps/web2"), "argocd/dup.yaml", 1),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}, "argocd/cm.yaml", 1),
    ]
    apps, skipped = apps_from_argocd(docs, {"git@github.com:org/gitops"})
    assert [(a.name, a.path, a.namespace, a.recurse, str(a.defined_by)) for a in apps] == [
        ("web", "apps/web", "web-ns", True, "argocd/web.yaml:3"), ("api", "charts/api", "api-ns", False,
                                                                   "argocd/api.yaml:1")]
    assert apps[0].sources[0] == AppSource(
        GitSource("https://github.com/org/gitops.git", "", "apps/web"),
        Render(directory=DirectoryOptions(recurse=True), helm=HelmOptions(), declared=("directory",)))
    assert apps[1].sources[0].render.helm == HelmOptions(release_name="r",
                                                         values_files=(ValuesFile("values-prod.yaml"),))
    assert apps[1].defined_by == DefinedBy("argocd-application", "argocd/api.yaml", 1)
    reasons = {s.name: s.reason for s in skipped}
    assert set(reasons) == {"other", "redis", "multi", "set", "web"}
    assert "another repository" in reasons["other"] and "Helm repository" in reasons["redis"]
    assert "multi-source" in reasons["multi"] and "ApplicationSet" in reasons["set"]
    assert "argocd/web.yaml:3" in reasons["web"]


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
