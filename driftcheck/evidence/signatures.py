"""Commit signatures checked against --trusted-signers only: GPG, SSH (allowed_signers) and X.509 (gpgsm).

The trust file is one text file kept outside the audited repository (whoever can push to the repository
must not choose whom it trusts): ASCII-armored OpenPGP public keys (every key in it is trusted), PEM
X.509 certificates (trusted roots), and `allowed_signers` lines for SSH keys. The verifiers run in a
temporary GNUPGHOME holding only those keys: never the user's ~/.gnupg, never the GPG web of trust.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from driftcheck.model import CommitSignature, DriftcheckError

TIMEOUT = 30.0  # seconds one verifier call may take
_BLOCK = re.compile(r"^-----BEGIN (PGP PUBLIC KEY BLOCK|CERTIFICATE)-----$")
_SSH_KEY = re.compile(r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-\S+|sk-\S+)$")
_FORMATS = {"-----BEGIN PGP SIGNATURE-----": "gpg", "-----BEGIN SSH SIGNATURE-----": "ssh",
            "-----BEGIN SIGNED MESSAGE-----": "x509"}
_SSH_GOOD = re.compile(r'Good "git" signature (?:for (\S+) )?with \S+ key (SHA256:\S+)')


@dataclass(frozen=True)
class TrustFile:
    """--trusted-signers as read: its blocks by kind, and its digest for the report."""

    path: Path
    digest: str
    pgp_keys: list[str] = field(default_factory=list)
    certificates: list[str] = field(default_factory=list)
    allowed_signers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RawCommit:
    """A commit object split into what a verifier needs: the signature and the bytes it covers."""

    sha: str
    parents: tuple[str, ...]
    author: str
    committer: str  # name <email>
    committed: int  # the committer's timestamp (its claim)
    message: str
    signature: str = ""  # armored; "" when unsigned
    payload: bytes = b""  # the object without its signature header

    @property
    def format(self) -> str:
        first = self.signature.split("\n", 1)[0].strip()
        return _FORMATS.get(first, "unknown") if self.signature else ""


def load_trust_file(path: Path, inside: list[Path]) -> TrustFile:
    """Read --trusted-signers, refusing one inside any of `inside` (the repository's work tree, .git)."""
    real = path.resolve()
    for root in inside:
        if real.is_relative_to(root.resolve()):
            raise DriftcheckError(f"--trusted-signers {path}: inside the audited repository ({root}); keep "
                                  "the trust file outside it, or whoever can push chooses whom it trusts")
    try:
        data = path.read_bytes()
        lines = data.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DriftcheckError(f"--trusted-signers {path}: cannot read it: {exc}") from None
    keys: list[str] = []
    certs: list[str] = []
    signers: list[str] = []
    block: list[str] = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if block:
            block.append(text)
            if text.startswith("-----END "):
                (keys if "PGP" in block[0] else certs).append("\n".join(block) + "\n")
                block = []
        elif _BLOCK.match(text):
            block = [text]
        elif text and not text.startswith("#"):
            if not any(_SSH_KEY.match(token) for token in text.split()[1:]):
                raise DriftcheckError(f"--trusted-signers {path}:{number}: neither an armored key block, "
                                      "a certificate nor an allowed_signers line (principal [options] "
                                      "ssh-ed25519 AAAA...)")
            signers.append(text)
    if block:
        raise DriftcheckError(f"--trusted-signers {path}: {block[0]} is not closed")
    if not (keys or certs or signers):
        raise DriftcheckError(f"--trusted-signers {path}: holds no key, certificate or allowed_signers line")
    return TrustFile(path, "sha256:" + hashlib.sha256(data).hexdigest(), keys, certs, signers)


def parse_commit(sha: str, data: bytes) -> RawCommit:
    """The commit object's headers, message and signature (gpgsig, or gpgsig-sha256 in a SHA-256 repo)."""
    head, _, message = data.partition(b"\n\n")
    wanted = b"gpgsig-sha256" if len(sha) == 64 else b"gpgsig"
    kept: list[bytes] = []
    signature: list[bytes] = []
    parents: list[str] = []
    author = committer = ""
    committed = 0
    in_signature = False
    for line in head.split(b"\n"):
        if in_signature and line.startswith(b" "):
            signature.append(line[1:])
            continue
        in_signature = False
        name, _, value = line.partition(b" ")
        if name == wanted:
            in_signature = True
            signature.append(value)
            continue
        kept.append(line)
        text = value.decode("utf-8", "replace")
        if name == b"parent":
            parents.append(text)
        elif name in (b"author", b"committer"):
            who, _, when = text.rpartition("> ")
            if name == b"author":
                author = who + ">"
            else:
                committer, committed = who + ">", int(when.split()[0]) if when.split() else 0
    payload = b"\n".join(kept) + b"\n\n" + message
    armored = b"\n".join(signature).decode("utf-8", "replace") + "\n" if signature else ""
    return RawCommit(sha, tuple(parents), author, committer, committed, message.decode("utf-8", "replace"),
                     armored, payload if signature else b"")


class Verifier:
    """A temporary GNUPGHOME with the trust file's keys; `verify` checks one commit's signature."""

    def __init__(self, trust: TrustFile) -> None:
        self.trust = trust
        self.home = Path(tempfile.mkdtemp(prefix="driftcheck-gnupg-"))
        self.env = {"GNUPGHOME": str(self.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "HOME": str(self.home), "LANG": "C", "LC_ALL": "C", "TZ": "UTC"}
        self.allowed = self.home / "allowed_signers"
        self.allowed.write_text("".join(f"{line}\n" for line in trust.allowed_signers), encoding="utf-8")
        self.fingerprints: list[str] = []  # primary fingerprints of the trusted OpenPGP keys
        self.emails: dict[str, set[str]] = {}  # primary fingerprint -> the e-mail addresses of its user ids
        self.gpgsm = shutil.which("gpgsm") if trust.certificates else None
        try:
            if trust.pgp_keys:
                self._import_pgp()
            if self.gpgsm:
                self._import_certificates()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if shutil.which("gpgconf"):  # an agent gpgsm started ends with its home
            subprocess.run(["gpgconf", "--kill", "all"], env=self.env, capture_output=True, timeout=TIMEOUT)
        shutil.rmtree(self.home, ignore_errors=True)

    def _run(self, argv: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(argv, input=stdin, env=self.env, capture_output=True, timeout=TIMEOUT,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return subprocess.CompletedProcess(argv, 255, b"", str(exc).encode())

    def _import_pgp(self) -> None:
        if not shutil.which("gpg"):
            raise DriftcheckError(f"--trusted-signers {self.trust.path}: holds OpenPGP keys but gpg is not "
                                  "installed (Debian: gnupg)")
        done = self._run(["gpg", "--batch", "--no-tty", "--import"], "".join(self.trust.pgp_keys).encode())
        listed = self._run(["gpg", "--batch", "--with-colons", "--fixed-list-mode", "--list-keys"])
        rows = [row.split(":") for row in listed.stdout.decode("utf-8", "replace").splitlines()]
        for previous, row in itertools.pairwise(rows):
            if previous[0] == "pub" and row[0] == "fpr":
                self.fingerprints.append(row[9])
            elif row[0] == "uid" and self.fingerprints and len(row) > 9:
                self.emails.setdefault(self.fingerprints[-1], set()).add(email_of(row[9]))
        if not self.fingerprints:
            raise DriftcheckError(f"--trusted-signers {self.trust.path}: gpg read no key from its OpenPGP "
                                  f"blocks: {done.stderr.decode('utf-8', 'replace').strip()[:200]}")

    def _import_certificates(self) -> None:
        assert self.gpgsm is not None
        (self.home / "gpgsm.conf").write_text("disable-crl-checks\ndisable-policy-checks\n")
        trustlist = []
        for pem in self.trust.certificates:
            self._run([self.gpgsm, "--batch", "--import"], pem.encode())
        listed = self._run([self.gpgsm, "--batch", "--with-colons", "--list-keys"])
        for row in (r.split(":") for r in listed.stdout.decode("utf-8", "replace").splitlines()):
            if row[0] == "fpr":
                trustlist.append(f"{row[9]} S relax\n")
        (self.home / "trustlist.txt").write_text("".join(trustlist))

    def verify(self, commit: RawCommit) -> CommitSignature:
        """The signature's status against the trust file alone; the key and signer as the verifier says."""
        fmt = commit.format
        if not fmt:
            return CommitSignature("unsigned")
        with tempfile.NamedTemporaryFile(dir=self.home, suffix=".sig") as sig:
            sig.write(commit.signature.encode())
            sig.flush()
            if fmt == "gpg":
                return self._gpg(sig.name, commit.payload)
            if fmt == "ssh":
                return self._ssh(sig.name, commit)
            if fmt == "x509":
                if self.gpgsm is None:
                    why = "no certificate in --trusted-signers" if shutil.which("gpgsm") \
                        else "gpgsm unavailable"
                    return CommitSignature("unverifiable", "x509",
                                           reason=f"x509 signature, not verified: {why}")
                return self._gpg(sig.name, commit.payload, self.gpgsm, "x509")
        return CommitSignature("unverifiable", fmt, reason="signature in an unknown format")

    def identities(self, signature: CommitSignature) -> set[str]:
        """The e-mail addresses a trusted signature vouches for: the key's user ids, the SSH principal."""
        if signature.status != "trusted":
            return set()
        if signature.format == "gpg":
            return self.emails.get(signature.key, {email_of(signature.signer)})
        return {email_of(signature.signer)}

    def _gpg(self, sig: str, payload: bytes, program: str = "gpg", fmt: str = "gpg") -> CommitSignature:
        argv = [program, "--batch", "--no-tty", "--status-fd", "1"]
        if fmt == "gpg":
            argv += ["--trust-model", "always", "--no-auto-key-retrieve"]
        done = self._run([*argv, "--verify", sig, "-"], payload)
        status: dict[str, list[str]] = {}
        for line in done.stdout.decode("utf-8", "replace").splitlines():
            if line.startswith("[GNUPG:] "):
                word, *rest = line[9:].split(" ", 1)
                status.setdefault(word, rest[0].split(" ") if rest else [])
        valid = status.get("VALIDSIG", [])
        key = (valid[9] if len(valid) > 9 else valid[0]) if valid else ""
        signed_at = _epoch(valid[2]) if len(valid) > 2 else ""
        for word, result in (("BADSIG", "bad"), ("REVKEYSIG", "revoked-key"), ("EXPKEYSIG", "expired-key"),
                             ("EXPSIG", "expired-signature"), ("GOODSIG", "trusted")):
            if word in status:
                signer = " ".join(status[word][1:])
                if fmt == "x509" and result == "trusted" and "TRUST_FULLY" not in status \
                        and "TRUST_ULTIMATE" not in status:
                    return CommitSignature("untrusted", fmt, signer, key, signed_at,
                                           "the certificate does not chain to one in --trusted-signers")
                return CommitSignature(result, fmt, signer, key or status[word][0], signed_at,  # type: ignore[arg-type]
                                       _REASONS.get(result, ""))
        errsig = status.get("ERRSIG", [])
        if errsig:
            issuer = errsig[6] if len(errsig) > 6 and errsig[6] != "-" else errsig[0]
            at = _epoch(errsig[4]) if len(errsig) > 4 else ""
            if errsig[5:6] == ["9"]:
                return CommitSignature("untrusted", fmt, "", issuer, at,
                                       "the key is not in --trusted-signers")
            return CommitSignature("bad", fmt, "", issuer, at, "the signature cannot be checked")
        return CommitSignature("bad", fmt, reason=f"{program} did not verify it: "
                               f"{done.stderr.decode('utf-8', 'replace').strip()[:160]}")

    def _ssh(self, sig: str, commit: RawCommit) -> CommitSignature:
        """As git verifies SSH signatures (ssh-keygen, namespace git, validity at the committer date), but
        called directly: no git configuration of the audited repository can choose the program."""
        at = datetime.fromtimestamp(commit.committed, UTC).strftime("-Overify-time=%Y%m%d%H%M%S")
        found = self._run(["ssh-keygen", "-Y", "find-principals", "-f", str(self.allowed), "-s", sig, at])
        for principal in found.stdout.decode("utf-8", "replace").split():
            done = self._run(["ssh-keygen", "-Y", "verify", "-f", str(self.allowed), "-I", principal,
                              "-n", "git", "-s", sig, at], commit.payload)
            good = _SSH_GOOD.search((done.stdout + done.stderr).decode("utf-8", "replace"))
            if done.returncode == 0 and good:
                return CommitSignature("trusted", "ssh", principal, good.group(2))
        done = self._run(["ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", sig], commit.payload)
        good = _SSH_GOOD.search((done.stdout + done.stderr).decode("utf-8", "replace"))
        if done.returncode != 0 or not good:
            return CommitSignature("bad", "ssh", reason="the signature does not match the commit")
        if found.returncode == 0 or good.group(2) in ssh_fingerprints(self.trust.allowed_signers):
            return CommitSignature("expired-key", "ssh", "", good.group(2),
                                   reason="key in --trusted-signers, but not valid at the committer date")
        return CommitSignature("untrusted", "ssh", "", good.group(2),
                               reason="the key is not in --trusted-signers")


def ssh_fingerprints(allowed_signers: list[str]) -> set[str]:
    """The SHA256 fingerprints of the keys in allowed_signers lines, whatever their validity windows."""
    out = set()
    for line in allowed_signers:
        tokens = line.split()
        for kind, blob in itertools.pairwise(tokens):
            if _SSH_KEY.match(kind):
                with contextlib.suppress(ValueError):
                    digest = hashlib.sha256(base64.b64decode(blob, validate=True)).digest()
                    out.add("SHA256:" + base64.b64encode(digest).decode().rstrip("="))
    return out


_REASONS = {"bad": "the signature does not match the commit: it was changed after signing",
            "revoked-key": "made by a key its owner has revoked",
            "expired-key": "made by a key that has expired (git cannot tell whether it had when the commit "
                           "was signed: the signature's time is the signer's claim)",
            "expired-signature": "the signature itself has expired"}


def email_of(identity: str) -> str:
    """The address in 'Name <address>' (or the text itself), lower-cased."""
    text = identity.rpartition("<")[2].rstrip(">") if "<" in identity else identity
    match = re.search(r"[^\s,/=<>]+@[^\s,/=<>]+", text)
    return (match.group(0) if match else text).strip().lower()


def _epoch(text: str) -> str:
    """A gpg status time (seconds since the epoch, or ISO 8601) as ISO 8601 UTC."""
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC).isoformat()
    return text
