"""Commit provenance of deploy events: whether each commit is signed and by whom, how it reached the branch.

Signatures are checked against --trusted-signers only (signatures.py). Without a trust file nothing is
run: a signed commit is "not-verified", read from the commit object, and the report has no findings.
The landing classification reads the commit alone (parents, message, committer), so it is as strong as
the text it reads: the evidence level says which.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftcheck.evidence.signatures import (
    RawCommit,
    TrustFile,
    Verifier,
    email_of,
    load_trust_file,
    parse_commit,
)
from driftcheck.fetch.gitobjects import MissingObject, ObjectReader
from driftcheck.model import CommitSignature, DeployEvent, Landing

LIMITS = ("Git alone cannot prove how a commit reached the branch: merge markers and committer names are "
          "text anyone can write locally and push, so forge-merge rests on that text; only a signature by a "
          "forge's key in --trusted-signers (forge-signed) or the forge's own API shows the forge made the "
          "commit. Commit dates are the committer's claim: a signature covers them but does not make them "
          "true (GPG signatures carry their own time, compared here; SSH signatures do not, and their "
          "allowed_signers validity is checked at the claimed committer date, as git does).")
# who commits for a forge when it merges, squashes or rebases in its web interface
FORGE_COMMITTERS = {"noreply@github.com": "github"}
MERGE_MARKERS = (  # (forge, pattern, how the PR is named from its groups)
    ("github", re.compile(r"^Merge pull request #(\d+) from \S+"), "#{0}"),
    ("gitlab", re.compile(r"^See merge request (\S+)!(\d+)", re.M), "{0}!{1}"),
    ("bitbucket", re.compile(r"^Merged in \S+ \(pull request #(\d+)\)"), "#{0}"),
    ("azure", re.compile(r"^Merged PR (\d+):"), "#{0}"),
    ("gitea", re.compile(r"^Merge pull request '.*' \(#(\d+)\)"), "#{0}"),
)
SQUASH_MARKER = re.compile(r"\(#(\d+)\)$")
DATE_TOLERANCE = 3600  # seconds a committer date may differ from the GPG signature's own time
NOT_TRUSTED = ("untrusted", "bad", "expired-key", "revoked-key", "expired-signature", "unverifiable")


def trust_for(path: Path | None, repo: Any) -> TrustFile | None:
    """--trusted-signers read, refused when it lies in the audited repository's work tree or .git."""
    if path is None:
        return None
    inside = [Path(repo.git_dir)] + ([Path(repo.working_tree_dir)] if repo.working_tree_dir else [])
    return load_trust_file(path, inside)


def annotate(git_dir: str, events: list[DeployEvent], trust: TrustFile | None,
             repos: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """Set each event's signature and landing; with a trust file, return the report's provenance section
    (the trust file's digest and keys, counts, the limits in words, and the findings). `repos`: the clone
    (git dir) of each commit of another repository; the rest are in git_dir."""
    by_dir: dict[str, set[str]] = {}
    for event in events:
        by_dir.setdefault((repos or {}).get(event.commit, git_dir), set()).add(event.commit)
    commits: dict[str, RawCommit] = {}
    parent_times: dict[str, int] = {}
    for where, shas in sorted(by_dir.items()):
        with ObjectReader(where) as reader:
            read = {sha: parse_commit(sha, data) for sha, data in reader.read_many(sorted(shas)).items()}
            for commit in read.values():
                if commit.parents:
                    with contextlib.suppress(MissingObject):  # a shallow clone's boundary
                        parent = parse_commit(commit.parents[0], reader.read(commit.parents[0]))
                        parent_times[commit.sha] = parent.committed
        commits.update(read)
    if trust is None:
        signatures = {sha: (CommitSignature("not-verified", c.format,
                                            reason="signed, not verified: no --trusted-signers")
                            if c.signature else CommitSignature("unsigned")) for sha, c in commits.items()}
        identities: dict[str, set[str]] = {}
        fingerprints: list[str] = []
    else:
        with Verifier(trust) as verifier:
            signatures = {sha: verifier.verify(c) for sha, c in commits.items()}
            identities = {sha: verifier.identities(s) for sha, s in signatures.items()}
            fingerprints = list(verifier.fingerprints)
    for event in events:
        commit = commits[event.commit]
        event.signature = signatures[event.commit]
        event.landing = landing(commit, event.signature, identities.get(event.commit, set()),
                                parent_times.get(event.commit))
    if trust is None:
        return None
    return {"trusted_signers": {"file": str(trust.path), "digest": trust.digest, "gpg_keys": fingerprints,
                                "ssh_keys": len(trust.allowed_signers),
                                "x509_certificates": len(trust.certificates)},
            "deploys": len(events),
            "signatures": dict(sorted(Counter(e.signature.status for e in events if e.signature).items())),
            "evidence": dict(sorted(Counter(e.landing.evidence for e in events if e.landing).items())),
            "limits": LIMITS,
            "findings": [f for e in events for f in findings(e)]}


def landing(commit: RawCommit, signature: CommitSignature, signer_ids: set[str],
            parent_time: int | None = None) -> Landing:
    """How the commit reached the branch, from its parents, message and committer, and the evidence level."""
    subject = commit.message.split("\n", 1)[0].strip()
    forge, pr = "", ""
    for name, pattern, shown in MERGE_MARKERS:
        match = pattern.search(commit.message)
        if match:
            forge, pr = name, shown.format(*match.groups())
            break
    bot = FORGE_COMMITTERS.get(email_of(commit.committer), "")
    squash = SQUASH_MARKER.search(subject)
    if len(commit.parents) > 1:
        kind = "merge"
    elif squash:
        kind, pr, forge = "squash", pr or f"#{squash.group(1)}", forge or bot
    elif bot:
        kind = "rebase"  # a forge committed it without a PR marker: a rebase merge, or an edit on its web UI
    else:
        kind, forge, pr = "direct", "", ""
    forge = forge or bot
    through_forge = bool(forge or pr)
    trusted = signature.status == "trusted"
    if trusted and any(i in FORGE_COMMITTERS for i in signer_ids):
        evidence = "forge-signed"
    elif trusted:
        evidence = "verified-signature"
    elif through_forge:
        evidence = "forge-merge"
    else:
        evidence = "unsigned-direct-push" if signature.status == "unsigned" else "direct-push"
    notes = []
    if kind == "merge" and not through_forge:
        notes.append("a merge made outside a forge (no PR marker, committer not a forge): pushed directly")
    if trusted and signer_ids and email_of(commit.committer) not in signer_ids:
        notes.append(f"signer-not-committer: signed by {signature.signer or signature.key}, "
                     f"committer {commit.committer}")
    if signature.signed_at:
        gap = abs(datetime.fromisoformat(signature.signed_at).timestamp() - commit.committed)
        if gap > DATE_TOLERANCE:
            notes.append(f"date-mismatch: committer date {_iso(commit.committed)} is {gap / 3600:.1f} h from "
                         f"the signature's own time {signature.signed_at}")
    if parent_time is not None and commit.committed < parent_time:
        notes.append(f"committer date {_iso(commit.committed)} is before its parent's ({_iso(parent_time)})")
    return Landing(kind, evidence, pr, forge, tuple(notes))  # type: ignore[arg-type]


def findings(event: DeployEvent) -> list[dict[str, Any]]:
    """What an auditor must see about one deploy: unsigned, untrusted, pushed directly, doubtful."""
    signature, landed = event.signature, event.landing
    if signature is None or landed is None:
        return []
    out: list[tuple[str, str]] = []
    if signature.status == "unsigned":
        out.append(("unsigned-deploy", "the commit is not signed"))
    elif signature.status in NOT_TRUSTED:
        out.append(("untrusted-signature",
                    f"{signature.format} signature {signature.status}: {signature.reason}"))
    if not (landed.forge or landed.pr):
        out.append(("direct-push", "no merge through a forge: no PR marker, committer not a forge"))
    out += [(note.split(":", 1)[0], note.split(": ", 1)[1]) for note in landed.notes
            if note.startswith(("signer-not-committer:", "date-mismatch:"))]
    return [{"finding": name, "app": event.app, "commit": event.commit, "date": event.date,
             "committer": event.committer, "signer": signature.signer or signature.key, "detail": detail}
            for name, detail in out]


def signature_text(signature: CommitSignature | None, landed: Landing | None) -> str:
    """One line for terminals and Markdown: 'signed (ssh) by alice@example.com, trusted; direct-push'."""
    if signature is None or landed is None:
        return ""
    if signature.status == "unsigned":
        words = "unsigned"
    elif signature.status == "not-verified":
        words = f"signed ({signature.format}), not verified: no --trusted-signers"
    else:
        who = f" by {signature.signer}" if signature.signer else ""
        who = who or (f" with key {signature.key}" if signature.key else "")
        words = f"signed ({signature.format}){who}, {signature.status}"
        if signature.status != "trusted" and signature.reason:
            words += f" ({signature.reason})"
    route = landed.kind + (f" {landed.pr}" if landed.pr else "")
    route += f" via {landed.forge}" if landed.forge else ""
    return "; ".join([words, f"{route}, evidence {landed.evidence}", *landed.notes])


def summary_line(found: list[dict[str, Any]], deploys: int) -> str:
    """The terminal's one line on provenance: deploys in the period, and the findings by kind."""
    kinds = Counter(f["finding"] for f in found)
    counted = ", ".join(f"{n} {name}" for name, n in sorted(kinds.items())) or "none"
    return f"provenance: {deploys} deploy{'s' if deploys != 1 else ''} in the period; findings: {counted}"


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()
