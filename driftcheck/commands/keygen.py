"""`driftcheck keygen`: a signing key pair for `check --sign-key`; prints where it went and the key id."""

from __future__ import annotations

from pathlib import Path

import click


def run(out: Path, passphrase_env: str | None, passphrase_file: Path | None) -> int:
    from driftcheck.evidence import keys

    secret = keys.passphrase(passphrase_env, passphrase_file)
    private, public, key_id = keys.generate(out, secret)
    state = "encrypted" if secret else "NOT encrypted: keep it in a Secret or give a passphrase"
    click.echo(f"private key: {private} (mode 0600, {state})")
    click.echo(f"public key:  {public} (publish it, with the key id, where auditors can find it)")
    click.echo(f"key id:      {key_id}")
    return 0
