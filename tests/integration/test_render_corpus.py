"""Rendering the real corpus at several commits gives exactly what `git archive` + `kubectl kustomize` give,
and reading commits never touches the clone's work tree, index or HEAD."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftcheck.apps import path_app
from driftcheck.apps.argocd import apps_from_argocd, find_application_documents
from driftcheck.apps.urls import infer_repo_urls
from driftcheck.commands.options import FetchOptions
from driftcheck.fetch.git import open_repo, remote_urls, resolve_commit
from driftcheck.fetch.sources import SourceTrees
from driftcheck.fetch.tree import CommitTree
from driftcheck.render import render_app

NAMESPACE = "blog-system"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


# (subject of the commit, app path at that commit, kind of app). Subjects, not SHAs: the test finds them.
COMMITS = [
    (None, "services/blog-system", "kustomize"),  # HEAD
    ("feat: Kustomize 효율성 개선 (commonLabels, namespace, 주석)", "services/blog-system", "kustomize"),
    ("refactor: 디렉터리 구조 재편 (Role-based)", "services/blog-system", "directory"),  # just after the move
    ("test: Canary deployment v10 → v11", "blog-system", "directory"),  # before the move
]


def commit_by_subject(repo: Path, subject: str | None) -> str:
    if subject is None:
        return git(repo, "rev-parse", "HEAD")
    shas = git(repo, "log", "--format=%H", "--fixed-strings", f"--grep={subject}").split()
    assert len(shas) == 1, f"expected one commit titled {subject!r}, found {shas}"
    return shas[0]


def oracle(repo: Path, sha: str, path: str, tmp: Path) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    """The objects git archive + kubectl kustomize give; a plain directory gets a kustomization listing
    its top-level manifests (what ArgoCD reads without recurse), so kustomize parses them independently."""
    archive = subprocess.run(["git", "archive", "--format=tar", sha], cwd=repo, capture_output=True,
                             check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp, filter="data")
    app_dir = tmp / path
    if not any((app_dir / n).exists() for n in ("kustomization.yaml", "kustomization.yml", "Kustomization")):
        files = sorted(p.name for p in app_dir.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
        (app_dir / "kustomization.yaml").write_text("resources:\n" + "".join(f"- {f}\n" for f in files))
    out = subprocess.run(["kubectl", "kustomize", str(app_dir)], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    objects = {}
    for body in yaml.safe_load_all(out):
        if body:
            meta = body["metadata"]
            key = (body["apiVersion"].rpartition("/")[0], body["kind"], meta.get("namespace") or NAMESPACE,
                   meta["name"])
            objects[key] = body
    return objects


@pytest.mark.slow
@pytest.mark.parametrize(("subject", "path", "kind"), COMMITS, ids=["HEAD", "kustomize-commonLabels",
                                                                    "after-move", "before-move"])
def test_blog_system_renders_as_kubectl_kustomize(corpus_repo: Path, tmp_path: Path, subject: str | None,
                                                  path: str, kind: str) -> None:
    sha = commit_by_subject(corpus_repo, subject)
    expected = oracle(corpus_repo, sha, path, tmp_path)
    repo = open_repo(str(corpus_repo))
    tree = CommitTree(repo, resolve_commit(repo, sha))
    rendered = render_app(tree, path_app(NAMESPACE, path, NAMESPACE))
    assert rendered.errors == []
    assert rendered.renderer == kind
    got = {(r.key.group, r.key.kind, r.key.namespace, r.key.name): r.body for r in rendered.resources}
    assert sorted(got) == sorted(expected)
    assert len(got) >= 14
    for key, body in expected.items():
        assert got[key] == body, key
    for res in rendered.resources:  # every object points at a real file and line of that commit
        assert res.origin.commit == sha
        text = git(corpus_repo, "show", f"{sha}:{res.origin.file}").splitlines()
        assert 1 <= res.origin.line <= len(text)


@pytest.mark.parametrize(("subject", "path"), [(None, "services/blog-system"),
                                             ("test: Canary deployment v10 → v11", "blog-system")])
def test_origins_point_at_the_document_that_defines_the_object(corpus_repo: Path, subject: str | None,
                                                               path: str) -> None:
    """file:line of each object is where PyYAML's composer says that object's document starts."""
    sha = commit_by_subject(corpus_repo, subject)
    repo = open_repo(str(corpus_repo))
    rendered = render_app(CommitTree(repo, resolve_commit(repo, sha)), path_app(NAMESPACE, path, NAMESPACE))
    assert rendered.resources
    for res in rendered.resources:
        starts = []
        for node in yaml.compose_all(git(corpus_repo, "show", f"{sha}:{res.origin.file}")):
            doc = yaml.safe_load(yaml.serialize(node)) if node else None
            if doc and doc.get("kind") == res.key.kind and doc["metadata"]["name"] == res.key.name:
                starts.append(node.start_mark.line + 1)
        assert res.origin.line in starts, (res.key, res.origin)
    assert all(f in rendered.files_read for f in {r.origin.file for r in rendered.resources})


def worktree_state(repo: Path) -> tuple[str, str, str, str]:
    """Checksums of every work-tree file, the index file, HEAD and `git status --porcelain`."""
    digest = hashlib.sha256()
    for p in sorted(repo.rglob("*")):
        if ".git" not in p.relative_to(repo).parts and p.is_file():
            digest.update(str(p.relative_to(repo)).encode() + b"\0" + p.read_bytes())
    index = hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest()
    return digest.hexdigest(), index, git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")


@pytest.mark.slow
def test_reading_any_commit_leaves_the_clone_untouched(corpus_repo: Path) -> None:
    before = worktree_state(corpus_repo)
    assert before[3] == ""
    repo = open_repo(str(corpus_repo))
    shas = git(corpus_repo, "rev-list", "--first-parent", "HEAD").split()
    for sha in shas[:: max(1, len(shas) // 12)]:
        tree = CommitTree(repo, resolve_commit(repo, sha))
        for path in ("services/blog-system", "blog-system"):
            if tree.is_dir(path):
                render_app(tree, path_app(NAMESPACE, path, NAMESPACE))
    assert worktree_state(corpus_repo) == before


@pytest.mark.slow
def test_a_bare_clone_renders_the_same(corpus_repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(corpus_repo), str(bare)], check=True)
    results = []
    for path in (str(corpus_repo), str(bare)):
        repo = open_repo(path)
        tree = CommitTree(repo, resolve_commit(repo, "HEAD"))
        rendered = render_app(tree, path_app(NAMESPACE, "services/blog-system", NAMESPACE))
        results.append({r.key: r.body for r in rendered.resources})
    assert results[0] == results[1] and len(results[0]) >= 30


def test_argocd_applications_become_apps(corpus_repo: Path) -> None:
    repo = open_repo(str(corpus_repo))
    tree = CommitTree(repo, resolve_commit(repo))
    documents, errors = find_application_documents(tree, "argocd/*.yaml")
    assert errors == []
    urls, note = infer_repo_urls(documents, remote_urls(repo))
    assert "https://github.com/wlals2/k8s-manifests.git" in urls and note  # the clone came from a bundle
    apps, skipped = apps_from_argocd(documents, urls)
    assert skipped == []
    # The independent reading: PyYAML over the files as checked out.
    expected = {}
    for f in sorted((corpus_repo / "argocd").glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if doc and doc.get("kind") == "Application":
                expected[doc["metadata"]["name"]] = doc["spec"]
    assert {a.name for a in apps} == set(expected)
    for app in apps:
        spec = expected[app.name]
        assert app.path == spec["source"]["path"]
        assert app.namespace == spec["destination"]["namespace"]
        assert [r.spec for r in app.ignore] == spec.get("ignoreDifferences", [])
        assert app.recurse == spec["source"].get("directory", {}).get("recurse", False)
    by_name = {a.name: a for a in apps}
    assert by_name["monitoring"].recurse is True
    assert len(by_name["blog-system"].ignore) == 2
    assert by_name["blog-system"].ignore[0].spec["name"] == "web-dest-rule"


def test_helm_wrapper_charts_offline_with_an_empty_cache_are_app_errors_naming_chart_version_and_repository(
        corpus_repo: Path, tmp_path: Path) -> None:
    repo = open_repo(str(corpus_repo))
    tree = CommitTree(repo, resolve_commit(repo))
    documents, _ = find_application_documents(tree, "argocd/*.yaml")
    apps, _ = apps_from_argocd(documents, {"https://github.com/wlals2/k8s-manifests.git"})
    helm_apps = {a.name: a for a in apps if a.path.startswith("apps/")}
    assert set(helm_apps) == {"kube-prometheus-stack", "sealed-secrets"}
    offline = SourceTrees(tree, fetch=FetchOptions(cache_dir=tmp_path / "cache", offline=True))
    for app in helm_apps.values():
        chart = yaml.safe_load((corpus_repo / app.path / "Chart.yaml").read_text())
        dependency = chart["dependencies"][0]
        rendered = render_app(offline, app)
        assert rendered.resources == []
        assert len(rendered.errors) == 1
        message = str(rendered.errors[0])
        assert f"app {app.name}" in message and f"{app.path}/Chart.yaml" in message
        assert dependency["name"] in message and str(dependency["version"]) in message
        assert dependency["repository"] in message and "offline" in message
    others = [render_app(tree, a) for a in apps if a.name in ("blog-system", "backup-system")]
    assert all(r.resources and not r.errors for r in others), "the other apps still render"
