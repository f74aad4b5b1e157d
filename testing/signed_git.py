"""Repositories with real commit signatures for provenance tests: GPG keys made in a temporary GNUPGHOME
(no passphrase), SSH keys from ssh-keygen, commits signed with either, merges, forged committers."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Signer:
    """One signing identity: `git_config` makes git sign with it; `trust_line` is its trust file entry."""

    name: str
    email: str
    format: str  # gpg | ssh
    key: str  # gpg: fingerprint; ssh: the private key file
    home: Path  # the GNUPGHOME that holds the gpg key
    trust_text: str  # the armored public key, or the allowed_signers line

    def git_config(self) -> list[str]:
        args = ["-c", "commit.gpgsign=true", "-c", f"user.signingkey={self.key}"]
        return args + (["-c", "gpg.format=ssh"] if self.format == "ssh" else [])


def gpg_signer(home: Path, name: str, email: str, expire: str = "1y", faked_time: str = "") -> Signer:
    """A fresh ed25519 signing key in its own GNUPGHOME under `home`."""
    gnupg = home / f"gnupg-{email.split('@')[0]}"
    gnupg.mkdir(mode=0o700, parents=True)
    extra = [f"--faked-system-time={faked_time}"] if faked_time else []
    _gpg(gnupg, *extra, "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key",
         f"{name} <{email}>", "ed25519", "sign", expire)
    listed = _gpg(gnupg, "--with-colons", "--list-keys").splitlines()
    fingerprint = next(line.split(":")[9] for line in listed if line.startswith("fpr:"))
    armored = _gpg(gnupg, "--armor", "--export", fingerprint)
    return Signer(name, email, "gpg", fingerprint, gnupg, armored)


def revoke(signer: Signer) -> Signer:
    """The same key with its revocation certificate imported: the exported public key says revoked."""
    cert = signer.home / "openpgp-revocs.d" / f"{signer.key}.rev"
    text = cert.read_text().replace(":-----BEGIN PGP", "-----BEGIN PGP")  # the guard against mistakes
    subprocess.run(["gpg", "--batch", "--import"], input=text.encode(), env=_env(signer.home), check=True,
                   capture_output=True)
    return Signer(signer.name, signer.email, "gpg", signer.key, signer.home,
                  _gpg(signer.home, "--armor", "--export", signer.key))


def ssh_signer(home: Path, name: str, email: str) -> Signer:
    key = home / f"ssh-{email.split('@')[0]}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", email, "-f", str(key)], check=True)
    public = key.with_suffix(".pub").read_text().strip()
    return Signer(name, email, "ssh", str(key), home, f'{email} namespaces="git" {public}\n')


def faked_gpg(home: Path, faked_time: str) -> Path:
    """A gpg.program that signs as if the clock said `faked_time` (YYYYMMDDTHHMMSS)."""
    wrapper = home / f"gpg-at-{faked_time}"
    wrapper.write_text(f'#!/bin/sh\nexec gpg --faked-system-time={faked_time} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    return path


def commit(repo: Path, files: dict[str, str], message: str, signer: Signer | None = None,
           committer: tuple[str, str] | None = None, author: tuple[str, str] | None = None,
           date: str | None = None, extra: tuple[str, ...] = ()) -> str:
    """Write files, commit them (signed by `signer` when given), return the SHA."""
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    who_name, who_email = committer or ((signer.name, signer.email) if signer else ("Dev", "dev@example.com"))
    env = {"GIT_COMMITTER_NAME": who_name, "GIT_COMMITTER_EMAIL": who_email,
           "GIT_AUTHOR_NAME": (author or (who_name, who_email))[0],
           "GIT_AUTHOR_EMAIL": (author or (who_name, who_email))[1]}
    if date:
        env |= {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
    config = list(extra) + (signer.git_config() if signer else [])
    git(repo, *config, "commit", "-q", "-m", message, env=env, home=signer.home if signer else None)
    return git(repo, "rev-parse", "HEAD").strip()


def git(repo: Path, *args: str, env: dict[str, str] | None = None, home: Path | None = None) -> str:
    full = _env(home) | (env or {})
    return subprocess.run(["git", "-C", str(repo), *args], env=full, check=True, capture_output=True,
                          text=True).stdout


def _env(gnupg: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    if gnupg is not None:
        env["GNUPGHOME"] = str(gnupg)
    return env


def _gpg(gnupg: Path, *args: str) -> str:
    return subprocess.run(["gpg", "--batch", *args], env=_env(gnupg), check=True, capture_output=True,
                          text=True).stdout
