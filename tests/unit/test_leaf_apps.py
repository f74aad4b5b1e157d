"""Which apps a fleet run may render where their cluster is audited (render.leaves): only those whose
files cannot declare an Application or ApplicationSet, read from the bytes; any doubt renders as before."""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftcheck.audit import desired_apps
from driftcheck.commands.options import SourceOptions
from driftcheck.render.leaves import leaf_apps

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

URL = "https://git.example.com/org/gitops.git"


def application(name: str, path: str) -> str:
    return (f"apiVersion: argoproj.io/v1alpha1\nkind: Application\n"
            f"metadata: {{name: {name}, namespace: argocd}}\n"
            f"spec:\n  project: default\n  source: {{repoURL: {URL}, path: {path}, targetRevision: HEAD}}\n"
            "  destination: {server: https://kubernetes.default.svc, namespace: default}\n")


def config_maps(*names: str) -> str:
    return "---\n".join(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}}}\ndata: {{k: v}}\n"
                        for n in names)


def test_only_apps_whose_files_cannot_declare_apps_are_leaves(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({
        **{f"roots/{name}.yaml": application(name, f"apps/{name}")
           for name in ("plain", "json", "parent", "escaped", "kustomized", "jsonnet", "linked")},
        "apps/plain/cms.yaml": config_maps("a", "b", "c"),
        "apps/plain/more/ignored.yaml": config_maps("not-read"),  # no recurse: not one of its files
        "apps/json/cm.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}',
        "apps/parent/child.yaml": application("child", "apps/plain"),
        "apps/escaped/cm.yaml": 'apiVersion: v1\nkind: "\\x41pplication"\nmetadata: {name: x}\n',
        "apps/kustomized/kustomization.yaml": "resources: [cm.yaml]\n",
        "apps/kustomized/cm.yaml": config_maps("k"),
        "apps/jsonnet/main.jsonnet": "{}",
    }, "apps")
    (git_repo.path / "apps/linked").mkdir()
    (git_repo.path / "apps/linked/cm.yaml").symlink_to("../plain/cms.yaml")
    git_repo.commit({}, "a symlinked manifest")
    _, tree, found = desired_apps(SourceOptions(repo=str(git_repo.path), argocd_apps="roots/*.yaml",
                                                repo_urls=[URL]))
    assert tree.symlink_target("apps/linked/cm.yaml") == "../plain/cms.yaml"
    assert leaf_apps(tree, found.apps) == {"plain": 3, "json": 1}
