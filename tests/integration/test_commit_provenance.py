"""Commit provenance through the CLI on a repository with real signatures: GPG keys in a temporary
GNUPGHOME, SSH keys from ssh-keygen, a signed merge, an untrusted signer, a forged committer and date,
a revoked key, a forge squash; `history --trusted-signers` and `check` reports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from driftcheck.live.snapshot import write_snapshot
from driftcheck.model import LiveState, Origin, Resource, ResourceKey
from driftcheck.report.json_report import schema_problems
from testing.livify import livify
from testing.signed_git import commit, git, gpg_signer, init_repo, revoke, ssh_signer

pytestmark = pytest.mark.skipif(not (shutil.which("gpg") and shutil.which("ssh-keygen")),
                                reason="needs gpg (Debian gnupg) and ssh-keygen")


def config_map(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  version: '{value}'\n"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("signers")
    alice = gpg_signer(home, "Alice", "alice@example.com")
    bob = ssh_signer(home, "Bob", "bob@example.com")
    mallory = gpg_signer(home, "Mallory", "mallory@example.com")
    rita = gpg_signer(home, "Rita", "rita@example.com")
    repo = init_repo(home / "repo")
    shas = {"unsigned": commit(repo, {"app/cm.yaml": config_map("1")}, "add web")}
    shas["gpg"] = commit(repo, {"app/cm.yaml": config_map("2")}, "web 2", alice)
    shas["ssh"] = commit(repo, {"app/cm.yaml": config_map("3")}, "web 3", bob)
    shas["untrusted"] = commit(repo, {"app/cm.yaml": config_map("4")}, "web 4", mallory)
    shas["carol"] = commit(repo, {"app/cm.yaml": config_map("5")}, "web 5", alice,
                           committer=("Carol", "carol@example.com"))
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, {"app/cm.yaml": config_map("6")}, "web 6", bob)
    git(repo, "checkout", "-q", "main")
    merge_env = {"GIT_COMMITTER_NAME": "Alice", "GIT_COMMITTER_EMAIL": "alice@example.com",
                 "GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@example.com"}
    git(repo, *alice.git_config(), "merge", "-q", "--no-ff", "-S", "-m",
        "Merge pull request #7 from x/feature", "feature", env=merge_env, home=alice.home)
    shas["merge"] = git(repo, "rev-parse", "HEAD").strip()
    shas["squash"] = commit(repo, {"app/cm.yaml": config_map("7")}, "web 7 (#12)",
                            committer=("GitHub", "noreply@github.com"), author=("Dana", "dana@example.com"))
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds")
    shas["backdated"] = commit(repo, {"app/cm.yaml": config_map("8")}, "web 8", alice, date=three_days_ago)
    shas["revoked"] = commit(repo, {"app/cm.yaml": config_map("9")}, "web 9", rita)
    trust = home / "trusted-signers"
    trust.write_text(alice.trust_text + bob.trust_text + revoke(rita).trust_text)
    return {"repo": repo, "shas": shas, "trust": trust, "home": home, "alice": alice}


def driftcheck(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "driftcheck.cli", *args], capture_output=True, text=True,
                          timeout=180, env={**os.environ, **(env or {})})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def history_json(signed: dict[str, Any], *extra: str) -> dict[str, Any]:
    proc = driftcheck("history", "--repo", str(signed["repo"]), "--path", "app", "-n", "web", "-o", "json",
                      *extra)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def by_commit(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["commit"]: e for e in doc["apps"][0]["events"]}


def test_history_checks_each_signature_against_the_trust_file(signed: dict[str, Any]) -> None:
    events = by_commit(history_json(signed, "--trusted-signers", str(signed["trust"])))
    shas = signed["shas"]
    seen = {name: (events[sha]["signature"]["status"], events[sha]["signature"]["format"],
                   events[sha]["signature"]["signer"]) for name, sha in shas.items()}
    assert seen == {
        "unsigned": ("unsigned", "", ""),
        "gpg": ("trusted", "gpg", "Alice <alice@example.com>"),
        "ssh": ("trusted", "ssh", "bob@example.com"),
        "untrusted": ("untrusted", "gpg", ""),  # Mallory's key is not in the trust file
        "carol": ("trusted", "gpg", "Alice <alice@example.com>"),
        "merge": ("trusted", "gpg", "Alice <alice@example.com>"),
        "squash": ("unsigned", "", ""),
        "backdated": ("trusted", "gpg", "Alice <alice@example.com>"),
        "revoked": ("revoked-key", "gpg", "Rita <rita@example.com>"),
    }
    assert events[shas["gpg"]]["signature"]["key"] == signed["alice"].key
    assert events[shas["ssh"]]["signature"]["key"].startswith("SHA256:")
    landings = {name: (events[sha]["landing"]["kind"], events[sha]["landing"]["pr"],
                       events[sha]["landing"]["evidence"]) for name, sha in shas.items()}
    assert landings["merge"] == ("merge", "#7", "verified-signature")
    assert landings["squash"] == ("squash", "#12", "forge-merge")
    assert landings["unsigned"] == ("direct", "", "unsigned-direct-push")
    assert landings["untrusted"] == ("direct", "", "direct-push")


def test_findings_name_unsigned_untrusted_direct_forged_and_revoked_deploys(signed: dict[str, Any]) -> None:
    doc = history_json(signed, "--trusted-signers", str(signed["trust"]))
    shas = {sha: name for name, sha in signed["shas"].items()}
    found = {(shas[f["commit"]], f["finding"]) for f in doc["findings"]}
    assert found == {
        ("unsigned", "unsigned-deploy"), ("unsigned", "direct-push"),
        ("gpg", "direct-push"), ("ssh", "direct-push"),
        ("untrusted", "untrusted-signature"), ("untrusted", "direct-push"),
        ("carol", "signer-not-committer"), ("carol", "direct-push"),
        ("squash", "unsigned-deploy"),
        ("backdated", "date-mismatch"), ("backdated", "direct-push"),
        ("revoked", "untrusted-signature"), ("revoked", "direct-push"),
    }


def test_without_a_trust_file_nothing_is_run_and_signed_commits_say_so(signed: dict[str, Any],
                                                                       tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    for program in ("gpg", "ssh-keygen", "gpgsm"):  # any verifier run would leave its name here
        (fake / program).write_text(f"#!/bin/sh\necho {program} >> {tmp_path}/ran\nexit 2\n")
        (fake / program).chmod(0o755)
    env = {"PATH": f"{fake}:{os.environ['PATH']}"}
    proc = driftcheck("history", "--repo", str(signed["repo"]), "--path", "app", "-n", "web", env=env)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "ran").exists()
    assert "signed (gpg), not verified: no --trusted-signers" in proc.stdout
    assert "signed (ssh), not verified: no --trusted-signers" in proc.stdout
    assert "provenance:" not in proc.stdout
    doc = json.loads(driftcheck("history", "--repo", str(signed["repo"]), "--path", "app", "-o", "json",
                                env=env).stdout)
    assert "findings" not in doc
    assert by_commit(doc)[signed["shas"]["ssh"]]["signature"]["status"] == "not-verified"


def test_table_shows_each_deploys_signature_and_one_summary_line(signed: dict[str, Any]) -> None:
    proc = driftcheck("history", "--repo", str(signed["repo"]), "--path", "app", "-n", "web",
                      "--trusted-signers", str(signed["trust"]))
    assert proc.returncode == 0, proc.stderr
    assert "signed (ssh) by bob@example.com, trusted; direct, evidence verified-signature" in proc.stdout
    assert "merge #7 via github, evidence verified-signature" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] == (
        "provenance: 9 deploys in the period; findings: 1 date-mismatch, 7 direct-push, "
        "1 signer-not-committer, 2 unsigned-deploy, 2 untrusted-signature")


def test_a_trust_file_inside_the_audited_repository_is_refused(signed: dict[str, Any]) -> None:
    inside = signed["repo"] / "trusted-signers"
    inside.write_text(signed["trust"].read_text())
    try:
        proc = driftcheck("history", "--repo", str(signed["repo"]), "--path", "app",
                          "--trusted-signers", str(inside))
    finally:
        inside.unlink()
    assert proc.returncode == 2
    assert f"--trusted-signers {inside}: inside the audited repository" in proc.stderr


def test_check_reports_carry_the_provenance_findings(signed: dict[str, Any], tmp_path: Path) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "web"},
            "data": {"version": "9"}}
    live = livify([body], app="web", namespace="web", applied_at=datetime.now(UTC))
    write_snapshot(LiveState(resources=[Resource(ResourceKey.of(o), o["apiVersion"], o, Origin("snapshot"))
                                        for o in live]), tmp_path / "live.yaml")
    proc = driftcheck("check", "--repo", str(signed["repo"]), "--path", "app", "-n", "web", "--live-snapshot",
                      str(tmp_path / "live.yaml"), "--out", str(tmp_path / "out"), "--format", "json,html,md",
                      "--trusted-signers", str(signed["trust"]))
    assert proc.returncode == 0, proc.stderr
    assert "provenance: 9 deploys in the period; findings: 1 date-mismatch, 7 direct-push" in proc.stdout
    report = json.loads(next((tmp_path / "out").rglob("report.json")).read_text())
    assert schema_problems(report) == []
    section = report["provenance"]
    assert section["trusted_signers"]["gpg_keys"] and section["trusted_signers"]["ssh_keys"] == 1
    assert len(section["findings"]) == 13 and "cannot prove" in section["limits"]
    html = next((tmp_path / "out").rglob("report.html")).read_text()
    assert "Commit provenance" in html and "untrusted-signature" in html
    markdown = next((tmp_path / "out").rglob("report.md")).read_text()
    assert "**Commit provenance** (13 findings in 9 deploys" in markdown
    plain = driftcheck("check", "--repo", str(signed["repo"]), "--path", "app", "-n", "web",
                       "--live-snapshot", str(tmp_path / "live.yaml"), "--out", str(tmp_path / "plain"),
                       "--format", "json")
    assert "provenance:" not in plain.stdout
    without = json.loads(next((tmp_path / "plain").rglob("report.json")).read_text())
    assert "provenance" not in without and "provenance" not in without["digests"]
    assert {e["signature"]["status"] for e in without["history"]} == {"unsigned", "not-verified"}
