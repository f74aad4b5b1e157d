"""Commit provenance pieces: the trust file's refusals, commit objects split for verifiers, landing
classification and evidence levels, and real verifiers on crafted commit objects (edited after signing,
an X.509 signature with no gpgsm)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from driftcheck.evidence import provenance
from driftcheck.evidence.signatures import (
    RawCommit,
    Verifier,
    load_trust_file,
    parse_commit,
    ssh_fingerprints,
)
from driftcheck.model import CommitSignature, DeployEvent, DriftcheckError
from testing.signed_git import commit, git, gpg_signer, init_repo, ssh_signer

UNSIGNED = CommitSignature("unsigned")


def raw(message: str, parents: int = 1, committer: str = "Dev <dev@example.com>") -> RawCommit:
    return RawCommit("a" * 40, tuple("b" * 40 for _ in range(parents)), "Dev <dev@example.com>", committer,
                     1_700_000_000, message)


@pytest.mark.parametrize(("message", "parents", "committer", "expected"), [
    ("Merge pull request #42 from org/fix\n\nFix", 2, "Dev <dev@example.com>", ("merge", "#42", "github")),
    ("Merge branch 'fix' into 'main'\n\nSee merge request infra/gitops!17", 2, "Dev <dev@example.com>",
     ("merge", "infra/gitops!17", "gitlab")),
    ("Merged in feature/x (pull request #5)\n", 2, "Dev <dev@example.com>", ("merge", "#5", "bitbucket")),
    ("Merged PR 311: bump web", 2, "Dev <dev@example.com>", ("merge", "#311", "azure")),
    ("Merge pull request 'bump' (#9) from x into main", 2, "Dev <dev@example.com>", ("merge", "#9", "gitea")),
    ("web v7 (#12)", 1, "GitHub <noreply@github.com>", ("squash", "#12", "github")),
    ("web v7", 1, "GitHub <noreply@github.com>", ("rebase", "", "github")),
    ("Merge branch 'feature'", 2, "Dev <dev@example.com>", ("merge", "", "")),
    ("Merge pull request #1 from x/y", 1, "Dev <dev@example.com>", ("direct", "", "")),
])
def test_landing_kind_pr_and_forge(message: str, parents: int, committer: str,
                                   expected: tuple[str, str, str]) -> None:
    landed = provenance.landing(raw(message, parents, committer), UNSIGNED, set())
    assert (landed.kind, landed.pr, landed.forge) == expected


def test_evidence_levels_strongest_first() -> None:
    trusted = CommitSignature("trusted", "gpg", "Dev <dev@example.com>", "F" * 40)
    forge_key = CommitSignature("trusted", "gpg", "GitHub <noreply@github.com>", "E" * 40)
    assert provenance.landing(raw("x (#1)", 1, "GitHub <noreply@github.com>"), forge_key,
                              {"noreply@github.com"}).evidence == "forge-signed"
    assert provenance.landing(raw("x"), trusted, {"dev@example.com"}).evidence == "verified-signature"
    assert provenance.landing(raw("x (#1)"), UNSIGNED, set()).evidence == "forge-merge"
    assert provenance.landing(raw("x"), UNSIGNED, set()).evidence == "unsigned-direct-push"
    untrusted = CommitSignature("untrusted", "ssh", key="SHA256:x")
    assert provenance.landing(raw("x"), untrusted, set()).evidence == "direct-push"
    # a local merge without a forge marker was pushed directly: said so, and a finding
    local = provenance.landing(raw("Merge branch 'f'", 2), UNSIGNED, set())
    assert local.evidence == "unsigned-direct-push" and "pushed directly" in local.notes[0]


def test_a_date_before_the_parents_is_noted() -> None:
    landed = provenance.landing(raw("x"), UNSIGNED, set(), parent_time=1_800_000_000)
    assert landed.notes == ("committer date 2023-11-14T22:13:20+00:00 is before its parent's "
                            "(2027-01-15T08:00:00+00:00)",)


def test_findings_of_one_event() -> None:
    event = DeployEvent("c" * 40, "2026-01-01T00:00:00+00:00", "Dev", "x", committer="Dev <dev@example.com>",
                        app="web")
    event.signature = CommitSignature("bad", "gpg", reason="changed after signing")
    event.landing = provenance.landing(raw("x (#3)"), event.signature, set())
    assert [(f["finding"], f["detail"]) for f in provenance.findings(event)] == [
        ("untrusted-signature", "gpg signature bad: changed after signing")]


def test_trust_file_refusals_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "signers"
    bad.write_text("# people\nalice@example.com AAAA-not-a-key\n")
    with pytest.raises(DriftcheckError, match=rf"--trusted-signers {bad}:2: neither an armored key block"):
        load_trust_file(bad, [])
    bad.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\nxx\n")
    with pytest.raises(DriftcheckError, match="is not closed"):
        load_trust_file(bad, [])
    bad.write_text("# nothing\n")
    with pytest.raises(DriftcheckError, match="holds no key"):
        load_trust_file(bad, [])
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(repo / "sub" / "signers")
    (repo / "sub" / "signers").write_text("x ssh-ed25519 AAAA\n")
    with pytest.raises(DriftcheckError, match="inside the audited repository"):
        load_trust_file(link, [repo])  # a symlink outside that points in is inside


def test_ssh_fingerprints_match_ssh_keygen(tmp_path: Path) -> None:
    signer = ssh_signer(tmp_path, "Bob", "bob@example.com")
    shown = subprocess.run(["ssh-keygen", "-l", "-f", f"{signer.key}.pub"], capture_output=True, text=True,
                           check=True).stdout.split()[1]
    assert ssh_fingerprints([signer.trust_text.strip()]) == {shown}


def _object(repo: Path, sha: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), "cat-file", "commit", sha], capture_output=True,
                          check=True).stdout


def _write(repo: Path, data: bytes) -> str:
    return subprocess.run(["git", "-C", str(repo), "hash-object", "-t", "commit", "-w", "--stdin"],
                          input=data, capture_output=True, check=True).stdout.decode().strip()


def test_a_commit_edited_after_signing_is_bad_and_the_payload_is_what_git_signs(tmp_path: Path) -> None:
    alice = gpg_signer(tmp_path, "Alice", "alice@example.com")
    repo = init_repo(tmp_path / "repo")
    sha = commit(repo, {"a": "1"}, "web 1", alice)
    signed = parse_commit(sha, _object(repo, sha))
    assert signed.format == "gpg" and signed.committer == "Alice <alice@example.com>"
    assert b"gpgsig" not in signed.payload and signed.payload.endswith(b"web 1\n")
    edited_sha = _write(repo, _object(repo, sha).replace(b"web 1", b"web 2"))
    trust = tmp_path / "trust"
    trust.write_text(alice.trust_text)
    with Verifier(load_trust_file(trust, [repo])) as verifier:
        home = verifier.home
        assert verifier.verify(signed).status == "trusted"
        edited = verifier.verify(parse_commit(edited_sha, _object(repo, edited_sha)))
        assert (edited.status, edited.format) == ("bad", "gpg")
    assert not home.exists()  # the temporary GNUPGHOME goes with the run


def test_x509_signature_without_gpgsm_is_said_unverifiable(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    repo = init_repo(tmp_path / "repo")
    sha = commit(repo, {"a": "1"}, "web 1")
    data = _object(repo, sha)
    head, _, message = data.partition(b"\n\n")
    fake = b"-----BEGIN SIGNED MESSAGE-----\n MIIB\n -----END SIGNED MESSAGE-----"
    x509_sha = _write(repo, head + b"\ngpgsig " + fake + b"\n\n" + message)
    assert git(repo, "cat-file", "-t", x509_sha).strip() == "commit"
    parsed = parse_commit(x509_sha, _object(repo, x509_sha))
    assert parsed.format == "x509"
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no gpgsm (nor anything else) on PATH
    trust = tmp_path / "trust"
    trust.write_text("bob@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJv\n")
    with Verifier(load_trust_file(trust, [])) as verifier:
        verdict = verifier.verify(parsed)
    assert (verdict.status, verdict.reason) == ("unverifiable",
                                                "x509 signature, not verified: gpgsm unavailable")

