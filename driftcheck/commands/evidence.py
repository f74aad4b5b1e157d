"""`driftcheck evidence`: write the auditor's pack for a period from a report archive (evidence/pack.py),
signed with the key `check` signs runs with; prints each completeness statement and where the pack is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from driftcheck.textsafe import for_terminal

if TYPE_CHECKING:
    from driftcheck.evidence.pack_model import PackOptions


def run(options: PackOptions, sign_key: Path | None, passphrase_env: str | None, passphrase_file: Path | None,
        progress: Callable[[str], None]) -> int:
    """Exit 0 when every cluster's period is complete, 1 when any is not (the pack is written either way)."""
    from driftcheck.evidence import keys, pack

    secret = keys.passphrase(passphrase_env, passphrase_file)
    signer = keys.load_signer(sign_key, secret) if sign_key else None
    built = pack.build(options, lambda m: progress(f"warning: {m}"))
    written = pack.write(built, signer)
    for statement in built.completeness:
        click.echo(for_terminal(statement["statement"]))
    signed = f"signed: {pack.SIGNED_NAME}" if signer else "NOT signed: give --sign-key"
    click.echo(for_terminal(f"evidence pack: {options.out} ({len(written)} files, {signed})"))
    return 0 if all(c["complete"] for c in built.completeness) else 1
