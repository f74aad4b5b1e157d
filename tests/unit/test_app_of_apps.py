"""App-of-apps over a real commit: the Applications an app renders become apps, recursively (three levels,
with a cycle that is an error naming both apps and the file while every other app is still rendered);
self-managed roots and shared children are rendered once; an ApplicationSet a parent renders expands.
Child Application objects compare after ArgoCD's `NormalizeApplicationSpec` (util/argo/argo.go)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftcheck.audit import DesiredState, desired_state
from driftcheck.commands.options import SourceOptions
from driftcheck.compare.normalize import normalize

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

URL = "https://git.example.com/org/gitops.git"


def application(name: str, path: str, namespace: str = "argocd", dest_ns: str = "default",
                extra: str = "") -> str:
    return (f"apiVersion: argoproj.io/v1alpha1\nkind: Application\n"
            f"metadata: {{name: {name}, namespace: {namespace}, "
            f"finalizers: [resources-finalizer.argocd.argoproj.io]}}\n"
            f"spec:\n  project: default\n  source: {{repoURL: {URL}, path: {path}, targetRevision: HEAD}}\n"
            f"  destination: {{server: https://kubernetes.default.svc, namespace: {dest_ns}}}\n{extra}")


def config_map(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{k: v}}\n"


def run(repo: GitRepoBuilder, glob: str = "roots/*.yaml") -> DesiredState:
    return desired_state(SourceOptions(repo=str(repo.path), argocd_apps=glob, repo_urls=[URL]))


def test_three_levels_deep_with_a_cycle(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({
        "roots/root.yaml": application("root", "apps/root", dest_ns="argocd"),
        "roots/other.yaml": application("other", "apps/other"),
        "apps/other/cm.yaml": config_map("other"),
        "apps/root/mid.yaml": application("mid", "apps/mid", dest_ns="argocd"),
        "apps/mid/leaf.yaml": application("leaf", "apps/leaf", dest_ns="argocd"),
        "apps/leaf/cm.yaml": config_map("leaf"),
        "apps/leaf/back.yaml": application("root", "apps/root", dest_ns="argocd"),  # back to the top
    }, "three levels and a cycle")
    state = run(git_repo)
    apps = {a.name: a for a in state.discovered.apps}
    assert sorted(apps) == ["leaf", "mid", "other", "root"]
    assert (apps["mid"].defined_by.parent, apps["leaf"].defined_by.parent) == ("root", "mid")
    assert apps["mid"].defined_by.file == "apps/root/mid.yaml"
    assert apps["root"].defined_by.parent == ""
    leaf = {(r.key.kind, r.key.name) for r in state.desired_by_app["leaf"]}
    assert leaf == {("ConfigMap", "leaf"), ("Application", "root")}  # still the leaf's resource
    assert {(r.key.kind, r.key.name) for r in state.desired_by_app["other"]} == {("ConfigMap", "other")}
    cycles = [e for e in state.errors if "cycle" in e.message]
    assert len(cycles) == 1
    error = cycles[0]
    assert (error.app, error.file, error.severity) == ("leaf", "apps/leaf/back.yaml", "error")
    assert "root → mid → leaf → root" in error.message
    assert str(error).startswith("app leaf, apps/leaf/back.yaml:1: app-of-apps cycle")


def test_self_managed_root_and_a_shared_child_are_rendered_once(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({
        "roots/root.yaml": application("root", "apps/root", dest_ns="argocd"),
        "apps/root/self.yaml": application("root", "apps/root", dest_ns="argocd"),
        "apps/root/a.yaml": application("a", "apps/a", dest_ns="argocd"),
        "apps/root/b.yaml": application("b", "apps/b", dest_ns="argocd"),
        "apps/a/shared.yaml": application("shared", "apps/shared"),
        "apps/b/shared.yaml": application("shared", "apps/shared"),
        "apps/shared/cm.yaml": config_map("shared"),
    }, "self-managed")
    state = run(git_repo)
    assert sorted(a.name for a in state.discovered.apps) == ["a", "b", "root", "shared"]
    warnings = sorted(e.message for e in state.errors if e.severity == "warning")
    assert len(warnings) == 2
    assert "declared by b and by a at apps/a/shared.yaml:1" in warnings[0]
    assert "root renders its own Application (self-managed)" in warnings[1]
    assert not [e for e in state.errors if e.severity == "error"]


def test_a_child_named_like_another_app_is_skipped_with_where(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({
        "roots/root.yaml": application("root", "apps/root"),
        "roots/web.yaml": application("web", "apps/web"),
        "apps/web/cm.yaml": config_map("web"),
        "apps/root/web.yaml": application("web", "apps/web", namespace="team-a"),
    }, "two apps named web")
    state = run(git_repo)
    assert sorted(a.name for a in state.discovered.apps) == ["root", "web"]
    assert [(s.name, s.origin) for s in state.discovered.skipped] == [("web", "apps/root/web.yaml:1")]
    assert "already declared (roots/web.yaml:1)" in state.discovered.skipped[0].reason


APPSET = f"""\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: envs, namespace: argocd}}
spec:
  generators:
    - list:
        elements: [{{env: dev}}, {{env: prod}}]
  template:
    metadata: {{name: 'web-{{{{env}}}}'}}
    spec:
      project: default
      source: {{repoURL: {URL}, path: 'envs/{{{{env}}}}', targetRevision: HEAD}}
      destination: {{server: https://kubernetes.default.svc, namespace: '{{{{env}}}}'}}
"""


def test_an_application_set_a_parent_renders_becomes_its_apps(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({
        "roots/root.yaml": application("root", "apps/root", dest_ns="argocd"),
        "apps/root/envs.yaml": APPSET,
        "envs/dev/cm.yaml": config_map("dev"),
        "envs/prod/cm.yaml": config_map("prod"),
    }, "an ApplicationSet in the root")
    state = run(git_repo)
    apps = {a.name: a for a in state.discovered.apps}
    assert sorted(apps) == ["root", "web-dev", "web-prod"]
    assert apps["web-prod"].defined_by.parent == "root"
    assert apps["web-prod"].defined_by.file == "apps/root/envs.yaml"
    assert "list" in apps["web-prod"].defined_by.generator
    assert [(r.key.namespace, r.key.name) for r in state.desired_by_app["web-prod"]] == [("prod", "prod")]
    assert [r.key.kind for r in state.desired_by_app["root"]] == ["ApplicationSet"]


def normalized(spec: dict[str, Any], **top: Any) -> dict[str, Any]:
    body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "a", "namespace": "argocd", "annotations": {
                "argocd.argoproj.io/refresh": "hard", "notified.notifications.argoproj.io": "{}",
                "team": "x"}},
            "spec": spec, **top}
    return normalize(body, "argoproj.io")


def test_application_spec_normalized_as_the_controller_persists_it() -> None:
    source = {"repoURL": URL, "path": "p", "helm": {}, "kustomize": {"forceCommonLabels": True},
              "directory": {"recurse": False, "include": "*.yaml", "jsonnet": {}}}
    out = normalized({"source": source, "syncPolicy": {"automated": None, "syncOptions": []}},
                     status={"sync": {"status": "Synced"}}, operation={"sync": {}})
    assert out == {"metadata": {"name": "a", "annotations": {"team": "x"}},
                   "spec": {"project": "default", "source": {"repoURL": URL, "path": "p",
                                                             "directory": {"include": "*.yaml"}}}}


def test_non_zero_blocks_and_sync_policies_are_kept() -> None:
    tlas = [{"name": "a", "value": "1"}]
    sources = [{"repoURL": URL, "chart": "c", "helm": {"valuesObject": {}}},
               {"repoURL": URL, "path": "k", "kustomize": {"images": ["x:1"]},
                "directory": {"recurse": True}},
               {"repoURL": URL, "path": "j", "directory": {"jsonnet": {"tlas": tlas}}}]
    spec = {"project": "team", "sources": [dict(s) for s in sources], "syncPolicy": {"automated": {}}}
    out = normalized(spec)
    assert out["spec"] == {"project": "team", "sources": sources, "syncPolicy": {"automated": {}}}
    # spec.source is not read when spec.sources has entries (ArgoCD's rule): its zero block stays
    out = normalized({"sources": [sources[0]], "source": {"repoURL": URL, "helm": {}}})
    assert out["spec"]["source"] == {"repoURL": URL, "helm": {}}


def test_other_kinds_keep_their_status_when_asked() -> None:
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
               "spec": {"replicas": 1}, "status": {"phase": "Healthy"}}
    assert normalize(rollout, "argoproj.io", compare_status=True)["status"] == {"phase": "Healthy"}
