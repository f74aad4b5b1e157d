"""`driftcheck render`: the desired state of a past moment written as files plus MANIFEST.json, checked
against git + kubectl kustomize, and accepted by `kubectl apply --dry-run=client -R -f DIR`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from testing.k8s_emulator import DEFAULT_RESOURCES, ApiResource, KubernetesEmulator

if TYPE_CHECKING:
    from conftest import GitRepoBuilder  # the git_repo fixture's type (tests/conftest.py)

DRIFTCHECK = [sys.executable, "-m", "driftcheck.cli"]
AT = "2026-01-20T16:30:00+09:00"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DRIFTCHECK, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def written_objects(out: Path) -> dict[str, dict[str, Any]]:
    return {str(p.relative_to(out)): yaml.safe_load(p.read_text()) for p in sorted(out.rglob("*.yaml"))}


@pytest.fixture(scope="module")
def corpus_render(corpus_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """`render --at AT --path blog-system` over the corpus (the app's path on that day)."""
    out = tmp_path_factory.mktemp("render") / "jan20"
    status = git(corpus_repo, "status", "--porcelain")
    proc = run("render", "--repo", str(corpus_repo), "--at", AT, "--path", "blog-system",
               "-n", "blog-system", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert git(corpus_repo, "status", "--porcelain") == status
    return corpus_repo, out, git(corpus_repo, "rev-list", "-1", "--first-parent", f"--before={AT}", "HEAD")


@pytest.mark.slow
def test_render_at_a_moment_writes_what_git_had_then(corpus_render: tuple[Path, Path, str],
                                                     tmp_path: Path) -> None:
    corpus, out, sha = corpus_render
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["source"]["commit"] == sha
    assert manifest["source"]["commit_date"] == git(corpus, "show", "-s", "--format=%cI", sha)
    assert manifest["source"]["at"]["requested"] == AT
    assert [a["name"] for a in manifest["apps"]] == ["blog-system"]
    # Oracle: the directory as `git archive` has it at that commit, each document parsed by PyYAML.
    archive = subprocess.run(["git", "archive", sha, "blog-system"], cwd=corpus, capture_output=True,
                             check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path, filter="data")
    expected = {}
    for f in sorted((tmp_path / "blog-system").glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if doc:
                ns = doc["metadata"].get("namespace") or "blog-system"
                expected[f"{ns}/{doc['kind']}.{doc['metadata']['name']}.yaml"] = doc
    objects = written_objects(out)
    assert objects == expected
    assert len(objects) == len(manifest["objects"]) == 14


@pytest.mark.slow
def test_manifest_digests_verify_the_written_files(corpus_render: tuple[Path, Path, str]) -> None:
    _, out, _ = corpus_render
    manifest = json.loads((out / "MANIFEST.json").read_text())
    for entry in manifest["objects"]:
        body = yaml.safe_load((out / entry["file"]).read_text())
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(canonical.encode()).hexdigest() == entry["sha256"], entry["file"]
        assert entry["source"]["file"].startswith("blog-system/") and entry["source"]["line"] >= 1


BLOG_KINDS = [ApiResource("security.istio.io", ("v1beta1",), "PeerAuthentication", "peerauthentications")]


@pytest.mark.slow
def test_kubectl_apply_client_dry_run_accepts_the_directory(corpus_render: tuple[Path, Path, str],
                                                            tmp_path: Path) -> None:
    """Client dry-run needs an API server for discovery: the loopback emulator (read-only, GETs only).
    Schema validation needs /openapi/v2, which the emulator does not serve, hence --validate=false."""
    _, out, _ = corpus_render
    with KubernetesEmulator(resources=[*DEFAULT_RESOURCES, *BLOG_KINDS], tls=True) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        proc = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "apply", "--dry-run=client",
                               "--validate=false", "-R", "-f", str(out)], capture_output=True, text=True,
                              timeout=120)
        assert {r.method for r in api.requests} == {"GET"}
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 14 and all(line.endswith("created (dry run)") for line in lines)
    assert "rollout.argoproj.io/web created (dry run)" in lines


def test_render_twice_is_byte_identical_and_replaces_the_earlier_render(git_repo: GitRepoBuilder,
                                                                         tmp_path: Path) -> None:
    git_repo.commit({"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                                    "data: {k: 'yes'}\n",
                     "app/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n",
                     "app/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
                                        "stringData: {password: hunter2}\n"}, "one")
    out = tmp_path / "out"
    for _ in range(2):
        proc = run("render", "--repo", str(git_repo.path), "--path", "app", "-n", "team", "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        first = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert sorted(str(p.relative_to(out)) for p in first) == [
        "MANIFEST.json", "_cluster/Namespace.team.yaml", "team/ConfigMap.a.yaml", "team/Secret.s.yaml"]
    assert yaml.safe_load((out / "team/ConfigMap.a.yaml").read_text())["data"] == {"k": "yes"}
    assert b"hunter2" not in b"".join(first.values()), "Secret values are redacted by default"


def test_render_refuses_a_directory_that_is_not_an_earlier_render(git_repo: GitRepoBuilder,
                                                                   tmp_path: Path) -> None:
    git_repo.commit({"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"}, "one")
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    proc = run("render", "--repo", str(git_repo.path), "--path", "app", "--out", str(out))
    assert proc.returncode == 2 and "not empty" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(("args", "words"), [
    (["--revision", "no-such-branch"], "no-such-branch"),
    (["--at", "2000-01-01"], "before the first commit"),
    (["--at", "next tuesday"], "not an ISO-8601"),
])
def test_bad_revision_or_moment_is_exit_2_with_one_line(git_repo: GitRepoBuilder, tmp_path: Path,
                                                        args: list[str], words: str) -> None:
    git_repo.commit({"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"}, "one")
    proc = run("render", "--repo", str(git_repo.path), "--path", "app", "--out", str(tmp_path / "o"), *args)
    assert proc.returncode == 2
    assert words in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_an_app_that_fails_is_reported_and_the_others_written(git_repo: GitRepoBuilder,
                                                               tmp_path: Path) -> None:
    git_repo.commit({"good/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
                     "bad/kustomization.yaml": "resources: [nope.yaml]\n"}, "one")
    out = tmp_path / "o"
    proc = run("render", "--repo", str(git_repo.path), "--path", "good", "--path", "bad", "-n", "team",
               "--out", str(out))
    assert proc.returncode == 2
    assert "app bad, bad/kustomization.yaml" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "team/ConfigMap.a.yaml").exists()
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert [e["app"] for e in manifest["errors"]] == ["bad"]


def test_unreachable_remote_is_exit_2_within_seconds(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    url = f"https://127.0.0.1:{port}/org/gitops.git"
    proc = subprocess.run([*DRIFTCHECK, "render", "--repo", url, "--path", "app", "--out",
                           str(tmp_path / "o")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert time.monotonic() - started < 15
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("driftcheck: error:")]
    assert len(error_lines) == 1 and f"127.0.0.1:{port}" in error_lines[0]


def test_render_timeout_stops_a_stuck_render_and_the_other_apps_are_written(git_repo: GitRepoBuilder,
                                                                            tmp_path: Path) -> None:
    """render takes check's --render-timeout: a kustomize that hangs is an app error after 2 s."""
    git_repo.commit({"kapp/kustomization.yaml": "resources: [cm.yaml]\n",
                     "kapp/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k}\n",
                     "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"}, "one")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kustomize").write_text("#!/bin/sh\nexec sleep 300\n")
    (bin_dir / "kustomize").chmod(0o755)
    out = tmp_path / "o"
    started = time.monotonic()
    proc = subprocess.run([*DRIFTCHECK, "render", "--repo", str(git_repo.path), "--path", "kapp", "--path",
                           "app", "-n", "team", "--out", str(out), "--render-timeout", "2"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert time.monotonic() - started < 30
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    manifest = json.loads((out / "MANIFEST.json").read_text())
    [error] = manifest["errors"]
    assert error["app"] == "kapp" and "did not finish within 2 s" in error["message"]
    assert [o["name"] for o in manifest["objects"]] == ["a"]


def test_selector_writes_only_the_objects_it_chooses(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    """render -l narrows Git exactly as check -l does."""
    git_repo.commit({"app/web.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, labels: "
                                     "{tier: web}}\n",
                     "app/db.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: db, labels: "
                                    "{tier: db}}\n"}, "one")
    out = tmp_path / "o"
    proc = run("render", "--repo", str(git_repo.path), "--path", "app", "-n", "team", "--out", str(out),
               "-l", "tier=web")
    assert proc.returncode == 0, proc.stderr
    assert sorted(written_objects(out)) == ["team/ConfigMap.web.yaml"]
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert [o["name"] for o in manifest["objects"]] == ["web"]
    assert "wrote 1 objects" in proc.stdout
