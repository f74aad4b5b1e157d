"""Live state matched to history: which past commit of the app the drifted live object corresponds to."""

from __future__ import annotations

import copy
from typing import Any

import git
from ruamel.yaml import YAML

from driftcheck.apps import path_app
from driftcheck.history import HistoryResult, app_history, match_live_commit
from driftcheck.model import FieldDiff, Origin, Resource, ResourceKey, ResourceResult

KEY = ResourceKey("apps", "Deployment", "shop", "web")


def manifest(image: str, replicas: int = 2, sidecar_first: bool = False, annotation: str = "") -> str:
    nginx = f"        - name: nginx\n          image: {image}\n"
    sidecar = "        - name: envoy\n          image: envoy:1.0\n"
    meta = f"  annotations:\n    team: {annotation}\n" if annotation else ""
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n{meta}spec:\n"
            f"  replicas: {replicas}\n  template:\n    spec:\n      containers:\n"
            + (sidecar + nginx if sidecar_first else nginx + sidecar))


def body(text: str) -> dict[str, Any]:
    return dict(YAML(typ="safe").load(text))


def drifted(desired: dict[str, Any], live: dict[str, Any], *pointers: str) -> tuple[ResourceResult, Resource]:
    diffs = [FieldDiff(p, _at(desired, p), _at(live, p)) for p in pointers]
    return (ResourceResult(KEY, "web", "drifted", diffs=diffs),
            Resource(KEY, "apps/v1", live, Origin("snapshot")))


def _at(doc: Any, pointer: str) -> Any:
    for token in pointer.split("/")[1:]:
        doc = doc[int(token)] if isinstance(doc, list) else (doc or {}).get(token)
    return doc


def run(repo: Any, path: str = "apps/web") -> HistoryResult:
    return app_history(git.Repo(repo.path), path_app("web", path, "shop"))


def test_live_image_matches_the_newest_commit_that_had_it(git_repo: Any) -> None:
    shas = [git_repo.commit({"apps/web/web.yaml": manifest(f"shop/web:v{n}")}, f"v{n}",
                            date=f"2026-01-2{n}T10:00:00+09:00") for n in range(1, 5)]
    history = run(git_repo)
    desired = body(manifest("shop/web:v4"))
    live = body(manifest("shop/web:v2"))

    match = match_live_commit(history, *drifted(desired, live, "/spec/template/spec/containers/0/image"))

    assert match == {"commit": shas[1], "date": "2026-01-22T10:00:00+09:00", "behind": 2}


def test_every_drifted_field_must_match_at_the_same_commit(git_repo: Any) -> None:
    git_repo.commit({"apps/web/web.yaml": manifest("shop/web:v1", replicas=2)}, "v1")
    scaled = git_repo.commit({"apps/web/web.yaml": manifest("shop/web:v1", replicas=5)}, "scale")
    git_repo.commit({"apps/web/web.yaml": manifest("shop/web:v2", replicas=5)}, "v2")
    git_repo.commit({"apps/web/web.yaml": manifest("shop/web:v3", replicas=2)}, "v3")
    history = run(git_repo)
    desired = body(manifest("shop/web:v3", replicas=2))
    pointers = ("/spec/replicas", "/spec/template/spec/containers/0/image")

    old_pair, new_pair = body(manifest("shop/web:v1", replicas=5)), body(manifest("shop/web:v3", replicas=9))
    match = match_live_commit(history, *drifted(desired, old_pair, *pointers))
    never = match_live_commit(history, *drifted(desired, new_pair, *pointers))

    assert match is not None and match["commit"] == scaled
    assert never is None


def test_containers_are_followed_by_name_not_position(git_repo: Any) -> None:
    old = git_repo.commit({"apps/web/web.yaml": manifest("shop/web:v1", sidecar_first=True)}, "v1")
    git_repo.commit({"apps/web/web.yaml": manifest("shop/web:v2")}, "v2, nginx listed first")
    history = run(git_repo)
    live = body(manifest("shop/web:v1"))  # live lists nginx first, as desired does now

    match = match_live_commit(history, *drifted(body(manifest("shop/web:v2")), live,
                                                "/spec/template/spec/containers/0/image"))

    assert match is not None and match["commit"] == old


def test_field_removed_from_git_but_still_live(git_repo: Any) -> None:
    tagged = git_repo.commit({"apps/web/web.yaml": manifest("shop/web:v1", annotation="payments")}, "tag")
    git_repo.commit({"apps/web/web.yaml": manifest("shop/web:v1")}, "untag")
    history = run(git_repo)
    live = body(manifest("shop/web:v1", annotation="payments"))

    match = match_live_commit(history, *drifted(body(manifest("shop/web:v1")), live, "/metadata/annotations"))

    assert match is not None and (match["commit"], match["behind"]) == (tagged, 1)


def test_kustomize_image_override_is_what_is_matched(git_repo: Any) -> None:
    kust = "namespace: shop\nresources: [web.yaml]\nimages: [{name: shop/web, newTag: %s}]\n"
    git_repo.commit({"apps/web/web.yaml": manifest("shop/web:v1"),
                     "apps/web/kustomization.yaml": kust % "v7"}, "pin v7")
    pinned = git_repo.commit({"apps/web/kustomization.yaml": kust % "v8"}, "pin v8")
    git_repo.commit({"apps/web/kustomization.yaml": kust % "v9"}, "pin v9")
    history = run(git_repo)
    desired = body(manifest("shop/web:v9"))
    live = copy.deepcopy(desired)
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "shop/web:v8"

    match = match_live_commit(history, *drifted(desired, live, "/spec/template/spec/containers/0/image"))

    assert match is not None and match["commit"] == pinned


def test_quantities_compare_as_the_api_server_stores_them(git_repo: Any) -> None:
    limits = "          resources:\n            limits:\n              cpu: \"%s\"\n"
    half = git_repo.commit({"apps/web/web.yaml": manifest("shop/web:v1") + limits % "0.5"}, "half a cpu")
    git_repo.commit({"apps/web/web.yaml": manifest("shop/web:v1") + limits % "1"}, "one cpu")
    history = run(git_repo)
    desired = body(manifest("shop/web:v1") + limits % "1")
    live = body(manifest("shop/web:v1") + limits % "500m")  # the API server's canonical form of 0.5

    cpu = "/spec/template/spec/containers/1/resources/limits/cpu"  # the sidecar, listed second
    match = match_live_commit(history, *drifted(desired, live, cpu))

    assert match is not None and match["commit"] == half
