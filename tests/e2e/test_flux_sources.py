"""`render --flux` over the sources Flux builds from: strict substitution by default, a flux-operator
FluxInstance as the root, a GitRepository's `include`, `ignore` and `.sourceignore`, another repository
served by `git daemon` at a semver tag, an OCIRepository from the loopback registry; bad input: a source
kind driftcheck cannot build, an unreachable registry (the rest of the run completes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from driftcheck.cli import main
from testing import flux_repo
from testing.loopback import serve_git


def render(git_repo: Any, tmp_path: Path, *extra: str, flux: str = "clusters/production") -> \
        tuple[int, str, dict[tuple[str, str], dict[str, Any]]]:
    out = tmp_path / "desired"
    result = CliRunner().invoke(main, ["render", "--repo", str(git_repo.path), "--flux", flux,
                                       "--repo-url", flux_repo.URL, "--out", str(out), *extra])
    objects = {(o["kind"], o["metadata"]["name"]): o
               for p in sorted(out.rglob("*.yaml")) if (o := yaml.safe_load(p.read_text()))}
    return result.exit_code, result.output, objects


UNSET = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unset\ndata:\n  region: \"${REGION}\"\n"


def test_substitution_is_strict_by_default(git_repo: Any, tmp_path: Path) -> None:
    files = {**flux_repo.FILES, "apps/production/unset.yaml": UNSET,
             "apps/production/kustomization.yaml": "resources:\n- ../base/podinfo\n- unset.yaml\n"}
    git_repo.commit(files, "a variable no one sets")
    code, output, objects = render(git_repo, tmp_path)
    assert code == 2
    assert 'variable not set (strict mode): "REGION"' in output
    assert ("Deployment", "podinfo") not in objects  # the whole Kustomization fails, as in Flux
    assert ("Namespace", "podinfo") in objects  # the others are built
    code, output, objects = render(git_repo, tmp_path / "relaxed", "--no-flux-strict-substitution")
    assert code == 0, output
    # the object is written as go-yaml v2 writes it (`region: ${REGION}`, unquoted), so the empty value
    # reads back as null, as in Flux with the gate off
    assert objects[("ConfigMap", "unset")]["data"] == {"region": None}


def kustomization(name: str, path: str, source: str, kind: str = "GitRepository") -> str:
    return (f"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n"
            f"  namespace: flux-system\nspec:\n  interval: 10m\n  path: {path}\n  prune: true\n"
            f"  sourceRef:\n    kind: {kind}\n    name: {source}\n")


def git_repository(name: str, url: str, ref: str, extra: str = "") -> str:
    return (f"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: {name}\n"
            f"  namespace: flux-system\nspec:\n  interval: 1m\n  url: {url}\n  ref:\n    {ref}\n{extra}")


def cm(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"


INSTANCE = f"""\
apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata:
  name: flux
  namespace: flux-system
spec:
  distribution:
    version: "2.x"
    registry: ghcr.io/fluxcd
  sync:
    kind: GitRepository
    url: {flux_repo.URL}
    ref: refs/heads/main
    path: kubernetes/flux/cluster
"""


def test_a_flux_operator_instance_is_the_root(git_repo: Any, tmp_path: Path) -> None:
    git_repo.commit({"kubernetes/flux/instance/instance.yaml": INSTANCE,
                     "kubernetes/flux/cluster/apps.yaml":
                         kustomization("apps", "./kubernetes/apps", "flux-system"),
                     "kubernetes/apps/web.yaml": cm("web")}, "flux-operator layout")
    result = CliRunner().invoke(main, ["apps", "--repo", str(git_repo.path), "--flux",
                                       "kubernetes/flux/instance", "--repo-url", flux_repo.URL, "-o", "json"])
    assert result.exit_code == 0, result.output
    apps = {a["name"]: a for a in json.loads(result.output[result.output.index("{"):])["apps"]}
    assert sorted(apps) == ["flux-system/apps", "flux-system/flux-system"]
    assert apps["flux-system/flux-system"]["declared"].startswith("kubernetes/flux/instance/instance.yaml:1")
    assert apps["flux-system/flux-system"]["sources"][0]["path"] == "kubernetes/flux/cluster"
    code, output, objects = render(git_repo, tmp_path, flux="kubernetes/flux/instance")
    assert code == 0, output
    assert objects[("ConfigMap", "web")]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "apps"


def test_include_and_sourceignore_shape_the_artifact(git_repo: Any, tmp_path: Path) -> None:
    shared = git_repository("shared", flux_repo.URL, "branch: main")
    consumer = git_repository("consumer", flux_repo.URL, "branch: main",
                              "  include:\n    - repository:\n        name: shared\n      fromPath: lib\n"
                              "      toPath: vendor/lib\n  ignore: |\n    /scratch/\n")
    git_repo.commit({**flux_repo.FILES,
                     "clusters/production/sources.yaml": f"{shared}---\n{consumer}",
                     "clusters/production/vendored.yaml": kustomization("vendored", "./vendor", "consumer"),
                     "clusters/production/hidden.yaml": kustomization("hidden", "./plain", "flux-system"),
                     "lib/base.yaml": cm("from-include"),
                     "vendor/kustomization.yaml": "resources:\n- lib/base.yaml\n",
                     "scratch/kustomization.yaml": "resources:\n- nothing-here.yaml\n",
                     "plain/app.yaml": cm("plain-app"),
                     "plain/notes.yaml": "this is not a Kubernetes object: Flux would fail to decode it\n",
                     "plain/.sourceignore": "notes.yaml\n"}, "include and ignore")
    code, output, objects = render(git_repo, tmp_path)
    assert code == 0, output
    # vendor/lib exists only because the include copied shared's lib/ there
    assert objects[("ConfigMap", "from-include")]["metadata"]["labels"][
        "kustomize.toolkit.fluxcd.io/name"] == "vendored"
    assert ("ConfigMap", "plain-app") in objects  # the generator never saw notes.yaml


def test_an_included_source_is_its_own_artifact_not_written_into_the_includers(git_repo: Any,
                                                                               tmp_path: Path) -> None:
    shared = git_repository("shared", flux_repo.URL, "branch: main", "  ignore: |\n    /plain/\n")
    consumer = git_repository("consumer", flux_repo.URL, "branch: main",
                              "  include:\n    - repository:\n        name: shared\n      fromPath: lib\n"
                              "      toPath: vendor/lib\n")
    git_repo.commit({**flux_repo.FILES,
                     "clusters/production/sources.yaml": f"{shared}---\n{consumer}",
                     "clusters/production/plain.yaml": kustomization("plain", "./plain", "consumer"),
                     "lib/base.yaml": cm("from-include"),
                     "plain/app.yaml": cm("plain-app")}, "an include made on first use")
    code, output, objects = render(git_repo, tmp_path)
    assert code == 0, output  # shared's ignore of /plain/ is shared's, not the consumer's
    labels = objects[("ConfigMap", "plain-app")]["metadata"]["labels"]
    assert labels["kustomize.toolkit.fluxcd.io/name"] == "plain"


def test_a_sourceref_kind_that_cannot_be_built_is_an_app_error(git_repo: Any, tmp_path: Path) -> None:
    git_repo.commit({**flux_repo.FILES,
                     "clusters/production/bucket.yaml": kustomization("bucket", "./", "bucket", "Bucket"),
                     "clusters/production/odd.yaml": kustomization("odd", "./", "x", "HelmRepository")},
                    "kinds not built")
    code, output, objects = render(git_repo, tmp_path)
    assert code == 2
    assert "sourceRef Bucket flux-system/bucket: a Bucket's objects are in S3-compatible storage" in output
    assert "sourceRef HelmRepository flux-system/x: not a kind of source a Kustomization builds" in output
    assert ("Deployment", "podinfo") in objects  # the rest is built


def test_another_repository_from_git_daemon_at_a_semver_tag(git_repo: Any, tmp_path: Path) -> None:
    other = tmp_path / "other"
    for version, replicas in (("v1.0.0", "1"), ("v1.2.0", "3"), ("v2.0.0", "9")):
        other.mkdir(exist_ok=True)
        (other / "app.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote\n"
                                        f"data:\n  replicas: \"{replicas}\"\n")
        if not (other / ".git").exists():
            subprocess.run(["git", "init", "-q", "-b", "main", str(other)], check=True)
        subprocess.run(["git", "-C", str(other), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(other), "-c", "user.name=t", "-c", "user.email=t@example.com",
                        "commit", "-q", "-m", version], check=True)
        subprocess.run(["git", "-C", str(other), "tag", version], check=True)
    url, daemon = serve_git(other, tmp_path / "served", "other.git")
    try:
        git_repo.commit({**flux_repo.FILES,
                         "clusters/production/remote.yaml":
                             git_repository("remote", url, "semver: \">=1.0.0 <2.0.0\"") + "---\n"
                             + kustomization("remote", "./", "remote")}, "another repository")
        code, output, objects = render(git_repo, tmp_path, "--cache-dir", str(tmp_path / "cache"))
    finally:
        daemon.terminate()
        daemon.wait()
    assert code == 0, output
    assert objects[("ConfigMap", "remote")]["data"] == {"replicas": "3"}  # v1.2.0, the highest in range
