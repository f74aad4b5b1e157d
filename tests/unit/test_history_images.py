"""Images and replicas of workloads; Kustomize's `images:`/`replicas:` semantics checked against kubectl."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from driftcheck.history import state as images


def workload(kind: str, image: str, init_image: str | None = None) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [{"name": "app", "image": image}]}
    if init_image:
        pod["initContainers"] = [{"name": "migrate", "image": init_image}]
    if kind == "Pod":
        spec: dict[str, Any] = pod
    elif kind == "CronJob":
        spec = {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": pod}}}}
    else:
        spec = {"replicas": 2, "template": {"spec": pod}}
    api = {"Pod": "v1", "CronJob": "batch/v1", "Job": "batch/v1", "Rollout": "argoproj.io/v1alpha1"}
    return {"apiVersion": api.get(kind, "apps/v1"), "kind": kind, "metadata": {"name": "w"}, "spec": spec}


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
                                  "CronJob", "Rollout"])
def test_images_of_every_workload_kind(kind: str) -> None:
    body = workload(kind, "shop/app:v1", init_image="shop/migrate:v1")
    assert images.container_images(body) == {"init:migrate": "shop/migrate:v1", "app": "shop/app:v1"}


def test_kinds_without_pod_template_have_no_images() -> None:
    assert images.container_images({"kind": "ConfigMap", "data": {"containers": "x"}}) == {}
    assert images.container_images({"kind": "Rollout", "spec": {"workloadRef": {"name": "web"}}}) == {}


@pytest.mark.parametrize(("image", "expected"), [
    ("nginx", ("nginx", "", "")),
    ("nginx:1.25", ("nginx", "1.25", "")),
    ("registry:5000/team/nginx", ("registry:5000/team/nginx", "", "")),
    ("registry:5000/team/nginx:1.25", ("registry:5000/team/nginx", "1.25", "")),
    ("ghcr.io/a/b:v1@sha256:abc", ("ghcr.io/a/b", "v1", "sha256:abc")),
])
def test_split_image(image: str, expected: tuple[str, str, str]) -> None:
    assert images.split_image(image) == expected


def kustomize(directory: Path, bodies: list[dict[str, Any]],
              kustomization: dict[str, Any]) -> list[dict[str, Any]]:
    """What `kubectl kustomize` makes of bodies under kustomization in directory (the oracle)."""
    directory.mkdir(parents=True, exist_ok=True)
    for i, body in enumerate(bodies):
        (directory / f"r{i}.json").write_text(json.dumps(body))
    spec = {"resources": [f"r{i}.json" for i in range(len(bodies))], **kustomization}
    (directory / "kustomization.yaml").write_text(json.dumps(spec))
    out = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True)
    return [d for d in YAML(typ="safe").load_all(out.stdout) if d]


OVERRIDES = [
    {"name": "shop/app", "newTag": "v2"},
    {"name": "shop/app", "newName": "mirror.example/shop/app"},
    {"name": "shop/app", "newName": "mirror.example/shop/app", "newTag": "v3"},
    {"name": "shop/app", "digest": "sha256:" + "a" * 64},
    {"name": "shop/app", "newTag": "v2", "digest": "sha256:" + "b" * 64},
    {"name": "other/app", "newTag": "v9"},
]


@pytest.mark.parametrize("override", OVERRIDES)
@pytest.mark.parametrize("image", ["shop/app:v1", "shop/app", "shop/app@sha256:" + "c" * 64])
def test_image_override_matches_kustomize(tmp_path: Path, override: dict[str, str], image: str) -> None:
    body = workload("Deployment", image, init_image=image)
    [rendered] = kustomize(tmp_path, [body], {"images": [override]})
    assert images.container_images(images.transform(body, [{"images": [override]}])) == \
        images.container_images(rendered)


def test_nested_overrides_apply_inner_first_like_kustomize(tmp_path: Path) -> None:
    inner = {"images": [{"name": "shop/app", "newName": "shop/app-fips", "newTag": "v5"}],
             "replicas": [{"name": "w", "count": 4}]}
    outer = {"images": [{"name": "shop/app-fips", "newName": "mirror/app-fips"}],
             "replicas": [{"name": "w", "count": 6}]}
    body = workload("Deployment", "shop/app:v1")
    kustomize(tmp_path / "base", [body], inner)
    (tmp_path / "overlay").mkdir()
    (tmp_path / "overlay" / "kustomization.yaml").write_text(json.dumps({"resources": ["../base"], **outer}))
    out = subprocess.run(["kubectl", "kustomize", str(tmp_path / "overlay")], capture_output=True, text=True,
                         check=True)
    [rendered] = [d for d in YAML(typ="safe").load_all(out.stdout) if d]

    result = images.transform(body, [outer, inner])

    assert images.container_images(result) == images.container_images(rendered) == {
        "app": "mirror/app-fips:v5"}
    assert images.replica_count(result) == images.replica_count(rendered) == 6
    assert body["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/app:v1"  # not mutated


def test_replicas_override_touches_only_the_named_workload() -> None:
    body = workload("Deployment", "shop/app:v1")
    assert images.replica_count(images.transform(body, [{"replicas": [{"name": "other", "count": 9}]}])) == 2
    assert images.transform(body, [{}]) is body
