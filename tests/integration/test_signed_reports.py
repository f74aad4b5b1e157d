"""Signed runs with the real CLI and real Git: --keep prunes reports and keeps every statement, the key
(and its passphrase) never reaches an output, a wrong passphrase stops the run before anything is
written, and a force-push of the audited branch between two signed runs is named."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from driftcheck.evidence.archive_check import verify_archive
from driftcheck.evidence.keys import load_public
from testing import planted
from testing.signed_archive import key_pair, nightly, write_runs

DEMO_APPS = ("--argocd-apps", "argocd/demo-app.yaml", "--repo-url",
             "https://git.example.com/platform/shop-gitops.git")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("demo-for-signing")
    made = planted.run_cli(["demo", "--out", str(base / "out")], base / "logs")
    return Path(made.stdout.rsplit("demo repository and snapshot: ", 1)[1].strip())


def check(demo: Path, out: Path, logs: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return planted.run_cli(["check", "--repo", str(demo / "shop-gitops"), *DEMO_APPS, "--live-snapshot",
                            str(demo / "live-snapshot.yaml"), "--out", str(out), "-o", "json", *extra], logs)


def test_keep_prunes_reports_keeps_statements_and_the_key_never_leaks(demo: Path, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    secret = planted.secret("keypass")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(secret.encode())).decode()
    for line in pem.splitlines()[1:-1]:
        planted.plant(line)          # any line of the key in any output fails the session's scan
    key_file = planted.write_input(tmp_path / "secret" / "driftcheck.key", pem)
    pass_file = planted.write_input(tmp_path / "secret" / "passphrase", secret + "\n")
    public = tmp_path / "driftcheck.pub"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    out = tmp_path / "reports"
    for _ in range(3):
        run = check(demo, out, tmp_path / "logs", "--keep", "1", "--sign-key", str(key_file),
                    "--sign-key-passphrase-file", str(pass_file))
        assert run.returncode == 1, run.stderr
    assert sorted(p.name for p in (out / "demo" / "chain").iterdir()) == [
        "00000001.sigstore.json", "00000002.sigstore.json", "00000003.sigstore.json"]
    assert len([p for p in (out / "demo").iterdir() if p.name != "chain"]) == 1
    [verdict] = verify_archive(out, load_public(public))
    assert verdict.findings == [] and verdict.pruned == 2 and verdict.last_seq == 3


def test_a_wrong_passphrase_stops_the_run_and_writes_nothing(demo: Path, tmp_path: Path) -> None:
    key_pair(tmp_path / "keys", b"the-right-one")
    key_file = tmp_path / "keys" / "driftcheck.key"
    planted.mark_input(key_file)
    run = planted.run_cli(["check", "--repo", str(demo / "shop-gitops"), *DEMO_APPS, "--live-snapshot",
                           str(demo / "live-snapshot.yaml"), "--out", str(tmp_path / "reports"),
                           "--sign-key", str(key_file), "--sign-key-passphrase-env", "H7_WRONG"],
                          tmp_path / "logs", env={"H7_WRONG": "not-it"})
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert f"cannot load the signing key {key_file}" in run.stderr
    assert not (tmp_path / "reports").exists()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example",
                               "PATH": "/usr/bin:/bin"}).stdout.strip()


def test_a_force_push_between_two_runs_is_named(tmp_path: Path) -> None:
    repo = tmp_path / "gitops"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commits = []
    for name in ("a", "b"):
        (repo / name).write_text(name)
        git(repo, "add", name)
        git(repo, "commit", "-q", "-m", name)
        commits.append(git(repo, "rev-parse", "HEAD"))
    git(repo, "reset", "-q", "--hard", commits[0])      # the branch rewritten: b is gone from main
    (repo / "c").write_text("c")
    git(repo, "add", "c")
    git(repo, "commit", "-q", "-m", "c")
    commits.append(git(repo, "rev-parse", "HEAD"))
    signer, public = key_pair(tmp_path / "keys")
    out = tmp_path / "reports"
    write_runs(out, signer, nightly(3), commits=commits)
    [verdict] = verify_archive(out, load_public(public), repo=repo)
    assert [(f.kind, f.seq) for f in verdict.findings] == [("force-push", 3)]
    assert commits[1][:12] in verdict.findings[0].message
