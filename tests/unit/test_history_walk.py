"""Deploy history on Git repositories built commit by commit: what is an entry, and what it says."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import git
import pytest
from ruamel.yaml import YAML

from driftcheck.apps import path_app
from driftcheck.history import app_history
from driftcheck.model import DriftcheckError

WEB = "web"
DEV = "Dev <dev@example.com>"
OPS = "Ops Person <ops@example.com>"


def deployment(image: str, replicas: int = 2, name: str = "web", kind: str = "Deployment",
               comment: str = "") -> str:
    api = "argoproj.io/v1alpha1" if kind == "Rollout" else "apps/v1"
    return f"""{comment}apiVersion: {api}
kind: {kind}
metadata:
  name: {name}
spec:
  replicas: {replicas}
  template:
    spec:
      containers:
        - name: nginx
          image: {image}
        - name: sidecar
          image: envoy:1.0
"""


def run_git(repo: Path, *args: str, date: str = "2026-01-21T09:00:00+09:00", who: str = OPS) -> str:
    name, email = who[:-1].split(" <")
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_AUTHOR_DATE": date,
           "GIT_COMMITTER_DATE": date}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def history(repo: Any, path: str = "apps/web", **kwargs: Any) -> Any:
    return app_history(git.Repo(repo.path), path_app("web", path, "shop"), **kwargs)


def images(result: Any) -> list[tuple[str, str, str]]:
    return [(i["container"], i["from"], i["to"]) for e in result.events for i in e.images]


def test_image_bumps_become_dated_entries_newest_first(git_repo: Any) -> None:
    first = git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1")}, "add web",
                            date="2026-01-20T10:00:00+09:00")
    git_repo.commit({"README.md": "docs only"}, "docs", date="2026-01-20T11:00:00+09:00")
    bump = git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v2")}, "bump web to v2",
                           date="2026-01-21T08:30:00-05:00", author=OPS)

    result = history(git_repo)

    assert [e.commit for e in result.events] == [bump, first]
    newest = result.events[0]
    assert (newest.date, newest.author, newest.committer, newest.message) == (
        "2026-01-21T08:30:00-05:00", OPS, OPS, "bump web to v2")
    assert newest.files == ["apps/web/web.yaml"]
    assert newest.images == [{"resource": "Deployment.apps/shop/web", "container": "nginx",
                              "from": "shop/web:v1", "to": "shop/web:v2"}]
    assert newest.resources == [{"group": "apps", "kind": "Deployment", "namespace": "shop", "name": "web",
                                 "change": "modified", "fields": ["/spec/template/spec/containers/0/image"]}]
    assert ("nginx", "", "shop/web:v1") in images(result)[1:]


def test_comment_only_edit_is_not_a_deploy(git_repo: Any) -> None:
    git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1")}, "add web")
    git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1", comment="# owned by team shop\n")},
                    "comment")
    assert [e.message for e in history(git_repo).events] == ["add web"]


def test_replica_change_and_rollback_restoring_earlier_state(git_repo: Any) -> None:
    base = git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1", replicas=2)}, "add web")
    git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1", replicas=5)}, "scale up")
    rollback = git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1", replicas=2)}, "scale back")

    events = history(git_repo).events

    assert events[0].commit == rollback
    assert events[0].replicas == [{"resource": "Deployment.apps/shop/web", "from": 5, "to": 2}]
    assert events[0].restores == base
    assert events[1].restores is None


def test_git_revert_is_recognised_and_resolved_to_the_full_sha(git_repo: Any) -> None:
    good = git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1")}, "add web")
    bad = git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v2")}, "bump web to v2")
    run_git(git_repo.path, "revert", "--no-edit", bad[:8], date="2026-01-22T09:00:00+09:00")

    revert = history(git_repo).events[0]

    assert revert.message == 'Revert "bump web to v2"'
    assert revert.revert_of == bad
    assert revert.images[0]["from"] == "shop/web:v2" and revert.images[0]["to"] == "shop/web:v1"
    assert revert.restores == good


def test_hand_written_revert_with_a_short_sha_is_resolved(git_repo: Any) -> None:
    git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1")}, "add web")
    bad = git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v2")}, "bump web to v2")
    git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1")},
                    f"undo the bump\n\nThis reverts commit {bad[:9]}.")
    assert history(git_repo).events[0].revert_of == bad


def test_merge_is_one_entry_listing_the_commits_it_brought(git_repo: Any) -> None:
    git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1")}, "add web")
    run_git(git_repo.path, "checkout", "-q", "-b", "feature")
    feature = git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v2")}, "bump on a branch")
    unrelated = git_repo.commit({"docs/notes.md": "x"}, "docs on the branch")
    run_git(git_repo.path, "checkout", "-q", "main")
    git_repo.commit({"other/app.yaml": deployment("x:1", name="other")}, "meanwhile on main")
    run_git(git_repo.path, "merge", "--no-ff", "-q", "-m", "Merge feature", "feature")
    merge = run_git(git_repo.path, "rev-parse", "HEAD")

    events = history(git_repo).events

    assert [e.message for e in events] == ["Merge feature", "add web"]
    assert events[0].commit == merge
    assert events[0].merged == [feature]
    assert unrelated not in events[0].merged
    assert ("nginx", "shop/web:v1", "shop/web:v2") in images(history(git_repo))


def test_unparseable_file_is_noted_and_history_goes_on(git_repo: Any) -> None:
    git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1")}, "add web")
    git_repo.commit({"apps/web/web.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web\n"},
                    "broken edit")
    git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v3")}, "fixed")

    result = history(git_repo)

    assert [e.message for e in result.events] == ["fixed", "broken edit", "add web"]
    broken = result.events[1]
    assert broken.note.startswith("unparseable at this commit: apps/web/web.yaml:")
    assert int(broken.note.rsplit(":", 1)[1]) >= 3
    assert not result.errors  # said once, on its entry: a past commit's typo is not an error of today's run
    assert result.events[2].images  # the commit before the broken one is still read


def test_shallow_clone_stops_at_the_boundary_with_a_note(git_repo: Any, tmp_path: Path) -> None:
    for n in range(1, 9):
        git_repo.commit({"apps/web/web.yaml": deployment(f"shop/web:v{n}")}, f"v{n}",
                        date=f"2026-01-2{n}T10:00:00+09:00")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "5", f"file://{git_repo.path}", str(shallow)],
                   check=True)

    result = app_history(git.Repo(shallow), path_app("web", "apps/web"))

    assert [e.message for e in result.events] == ["v8", "v7", "v6", "v5"]
    boundary = run_git(shallow, "rev-parse", "HEAD~4")
    assert any("shallow boundary" in n and boundary[:12] in n for n in result.notes)


def test_app_path_followed_back_through_a_directory_move(git_repo: Any) -> None:
    git_repo.commit({"web/deployment.yaml": deployment("shop/web:v1")}, "add web")
    git_repo.commit({"web/deployment.yaml": deployment("shop/web:v2")}, "v2")
    git_repo.commit({"web/deployment.yaml": None,
                     "apps/web/rollout.yaml": deployment("shop/web:v2", kind="Rollout")}, "migrate and move")
    git_repo.commit({"apps/web/rollout.yaml": deployment("shop/web:v3", kind="Rollout")}, "v3")

    result = history(git_repo)

    assert [e.message for e in result.events] == ["v3", "migrate and move", "v2", "add web"]
    move = result.events[1]
    assert move.files == ["web/deployment.yaml → apps/web/rollout.yaml"]
    assert [(r["change"], r.get("from_kind"), r["kind"]) for r in move.resources] == [
        ("kind-changed", "Deployment", "Rollout")]
    assert images(result) == [("nginx", "shop/web:v2", "shop/web:v3"),
                              ("nginx", "shop/web:v1", "shop/web:v2"),
                              ("nginx", "", "shop/web:v1"), ("sidecar", "", "envoy:1.0")]


def test_kustomize_app_reads_its_base_and_image_overrides(git_repo: Any) -> None:
    git_repo.commit({"base/web.yaml": deployment("shop/web:v1"),
                     "base/kustomization.yaml": "resources: [web.yaml]\n",
                     "overlays/prod/kustomization.yaml": "namespace: prod\nresources: [../../base]\n",
                     "overlays/dev/kustomization.yaml": "resources: [../../base]\n"}, "layout")
    git_repo.commit({"base/web.yaml": deployment("shop/web:v1", replicas=4)}, "scale in base")
    git_repo.commit({"overlays/dev/kustomization.yaml": "resources: [../../base]\nnamePrefix: dev-\n"},
                    "dev only")
    git_repo.commit({"overlays/prod/kustomization.yaml": "namespace: prod\nresources: [../../base]\n"
                     "images:\n  - name: shop/web\n    newTag: v9\n"}, "pin prod image")

    result = history(git_repo, path="overlays/prod")

    assert [e.message for e in result.events] == ["pin prod image", "scale in base", "layout"]
    pin, scale, _ = result.events
    assert pin.images == [{"resource": "Deployment.apps/prod/web", "container": "nginx",
                           "from": "shop/web:v1", "to": "shop/web:v9"}]
    assert pin.files == ["overlays/prod/kustomization.yaml"]
    assert scale.replicas == [{"resource": "Deployment.apps/prod/web", "from": 2, "to": 4}]
    assert scale.files == ["base/web.yaml"]


def test_filters_by_date_and_author(git_repo: Any) -> None:
    for n, (message, who) in enumerate([("one", DEV), ("two", OPS), ("three", DEV)]):
        git_repo.commit({"apps/web/web.yaml": deployment(f"shop/web:v{n}")}, message,
                        date=f"2026-01-2{n}T10:00:00+09:00", author=who)

    since = datetime.fromisoformat("2026-01-21T01:00:00+00:00")  # 10:00 +09:00 on the 21st
    assert [e.message for e in history(git_repo, since=since).events] == ["three", "two"]
    until = datetime.fromisoformat("2026-01-21T00:59:59+00:00")
    assert [e.message for e in history(git_repo, until=until).events] == ["one"]
    assert [e.message for e in history(git_repo, author="OPS@example").events] == ["two"]
    with pytest.raises(DriftcheckError, match=r"--since .* is after --until"):
        history(git_repo, since=since, until=until)


def test_path_that_never_held_manifests_is_reported_not_raised(git_repo: Any) -> None:
    head = git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1")}, "add web")
    result = history(git_repo, path="apps/nope")
    assert not result.found and result.events == []
    assert [str(e) for e in result.errors] == [
        f"app web: path 'apps/nope' has no manifests at {head[:12]} nor anywhere in its history"]


def test_deleted_app_keeps_its_history(git_repo: Any) -> None:
    git_repo.commit({"apps/old/web.yaml": deployment("shop/web:v1")}, "add old app")
    git_repo.commit({"apps/old/web.yaml": None, "README.md": "gone"}, "retire old app")
    result = history(git_repo, path="apps/old")
    assert result.found
    assert [(e.message, [r["change"] for r in e.resources]) for e in result.events] == [
        ("retire old app", ["removed"]), ("add old app", ["added"])]


def kustomize_images(repo: Path, commit: str, path: str, dest: Path) -> dict[str, str]:
    """name -> first container image as `kubectl kustomize` renders path at commit (the oracle)."""
    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(dest), commit], cwd=repo, check=True)
    out = subprocess.run(["kubectl", "kustomize", str(dest / path)], check=True, capture_output=True,
                         text=True).stdout
    subprocess.run(["git", "worktree", "remove", "--force", str(dest)], cwd=repo, check=True)
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
            for d in YAML(typ="safe").load_all(out) if d and d.get("kind") == "Deployment"}


def test_image_overrides_apply_only_within_their_kustomization(git_repo: Any, tmp_path: Path) -> None:
    git_repo.commit({"app/kustomization.yaml": "namespace: shop\nresources: [web, db]\n",
                     "app/web/kustomization.yaml": "resources: [web.yaml]\n",
                     "app/web/web.yaml": deployment("shop/app:v1", name="web"),
                     "app/db/kustomization.yaml": "resources: [db.yaml]\n",
                     "app/db/db.yaml": deployment("shop/app:v1", name="db")}, "layout")
    git_repo.commit({"app/web/kustomization.yaml": "resources: [web.yaml]\n"
                     "images: [{name: shop/app, newTag: v2}]\n"}, "web to v2")
    git_repo.commit({"app/kustomization.yaml": "namespace: shop\nresources: [web, db]\n"
                     "images: [{name: shop/app, newName: mirror/app}]\n"}, "mirror everything")

    result = history(git_repo, path="app")

    for n, event in enumerate(result.events[:2]):
        after = kustomize_images(git_repo.path, event.commit, "app", tmp_path / f"a{n}")
        before = kustomize_images(git_repo.path, f"{event.commit}^", "app", tmp_path / f"b{n}")
        expected = sorted((f"Deployment.apps/shop/{name}", before[name], after[name])
                          for name in after if before[name] != after[name])
        got = sorted((i["resource"], i["from"], i["to"]) for i in event.images if i["container"] == "nginx")
        assert got == expected
    assert [i["resource"] for i in result.events[1].images] == ["Deployment.apps/shop/web"]


def test_patch_changes_are_flagged_as_render_only(git_repo: Any) -> None:
    patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: %d}\n"
    git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v1"), "apps/web/patch.yaml": patch % 3,
                     "apps/web/kustomization.yaml": "resources: [web.yaml]\npatches: [{path: patch.yaml}]\n"},
                    "layout")
    git_repo.commit({"apps/web/patch.yaml": patch % 4}, "patch replicas")
    git_repo.commit({"apps/web/kustomization.yaml": "resources: [web.yaml]\npatches: [{path: patch.yaml}]\n"
                     "commonLabels: {team: shop}\n"}, "label everything")
    git_repo.commit({"apps/web/web.yaml": deployment("shop/web:v2")}, "bump")

    bump, labels, patched, _ = history(git_repo).events

    assert patched.files == ["apps/web/patch.yaml"] and patched.resources == []
    assert patched.note.endswith("objects not compared): apps/web/patch.yaml")
    assert labels.note.endswith("objects not compared): apps/web/kustomization.yaml")
    assert bump.note == "" and bump.images
