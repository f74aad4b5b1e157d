"""Signing keys: keygen's files and modes, the passphrase by variable or file, and refusals that name the
file without quoting the key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from driftcheck import scrub
from driftcheck.evidence import keys
from driftcheck.model import DriftcheckError


def test_generated_pair_is_p256_pkcs8_encrypted_0600(tmp_path: Path) -> None:
    private, public, key_id = keys.generate(tmp_path, b"correct horse")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    signer = keys.load_signer(private, b"correct horse")
    assert signer.key_id == key_id == keys.key_id(keys.load_public(public))
    assert isinstance(signer.private.curve, ec.SECP256R1)
    with pytest.raises(DriftcheckError, match="refusing to replace a key"):
        keys.generate(tmp_path, None)


def test_wrong_or_missing_passphrase_names_the_file(tmp_path: Path) -> None:
    private, _, _ = keys.generate(tmp_path, b"right")
    with pytest.raises(DriftcheckError, match=f"{private}.*passphrase is wrong"):
        keys.load_signer(private, b"wrong")
    with pytest.raises(DriftcheckError, match="it is encrypted: give its passphrase"):
        keys.load_signer(private, None)


def test_other_curves_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "p384.key"
    path.write_bytes(ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(DriftcheckError, match="not an ECDSA P-256 key"):
        keys.load_signer(path, None)


def test_passphrase_from_env_or_file_and_scrubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("H7_PASS", "env-passphrase-123")
    assert keys.passphrase("H7_PASS", None) == b"env-passphrase-123"
    assert "env-passphrase-123" not in scrub.scrub("said env-passphrase-123")
    file = tmp_path / "pass"
    file.write_text("file-passphrase-456\n")
    assert keys.passphrase(None, file) == b"file-passphrase-456"
    assert keys.passphrase(None, None) is None
    with pytest.raises(DriftcheckError, match="H7_UNSET is not set"):
        keys.passphrase("H7_UNSET", None)
    with pytest.raises(DriftcheckError, match="not both"):
        keys.passphrase("H7_PASS", file)


def test_a_loaded_key_is_scrubbed_from_messages(tmp_path: Path) -> None:
    private, _, _ = keys.generate(tmp_path, None)
    keys.load_signer(private, None)
    line = private.read_text().splitlines()[1]
    assert line not in scrub.scrub(f"oops {line}")
