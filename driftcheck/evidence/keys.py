"""Signing keys: ECDSA P-256 in PKCS#8 PEM, their passphrase (an env var or a file, never a flag value),
key ids as cosign writes them, and generating a pair.

Everything loaded here is registered with the scrubber first, so no error or log line can carry it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from driftcheck import scrub
from driftcheck.model import DriftcheckError

PRIVATE_NAME, PUBLIC_NAME = "driftcheck.key", "driftcheck.pub"


@dataclass(frozen=True)
class Signer:
    """A loaded private key; `key_id` is the hex sha256 of the public key's SPKI DER."""

    private: ec.EllipticCurvePrivateKey
    key_id: str

    @property
    def public(self) -> ec.EllipticCurvePublicKey:
        return self.private.public_key()

    def sign(self, data: bytes) -> bytes:
        """ECDSA P-256 over sha256(data), ASN.1 DER: what cosign, OpenSSL and sigstore-js verify."""
        return self.private.sign(data, ec.ECDSA(hashes.SHA256()))


def spki_der(public: ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(public: ec.EllipticCurvePublicKey) -> str:
    return hashlib.sha256(spki_der(public)).hexdigest()


def hint(public: ec.EllipticCurvePublicKey) -> str:
    """The bundle's publicKey.hint: standard base64 of sha256(SPKI DER), as cosign writes it."""
    return base64.b64encode(hashlib.sha256(spki_der(public)).digest()).decode()


def passphrase(env: str | None, file: Path | None) -> bytes | None:
    """The key's passphrase from the named environment variable or file (its last newline dropped)."""
    if env and file:
        raise DriftcheckError("give the signing key's passphrase by environment variable or file, not both")
    if env:
        value = os.environ.get(env)
        if value is None:
            raise DriftcheckError(f"the signing key passphrase variable {env} is not set")
    elif file:
        try:
            value = Path(file).read_text("utf-8").removesuffix("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise DriftcheckError(f"cannot read the signing key passphrase file {file}: "
                                  f"{getattr(exc, 'strerror', None) or 'not UTF-8 text'}") from exc
    else:
        return None
    scrub.register(value)
    return value.encode()


def load_signer(path: Path, secret: bytes | None) -> Signer:
    """The private key in path (PKCS#8 PEM, encrypted when secret is given); errors never quote it."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DriftcheckError(f"cannot read the signing key {path}: {exc.strerror}") from exc
    _register_pem(data)
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except TypeError as exc:  # encrypted without a passphrase, or a passphrase for a plain key
        why = "it is encrypted: give its passphrase" if secret is None else "it is not encrypted"
        raise DriftcheckError(f"cannot load the signing key {path}: {why}") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise DriftcheckError(f"cannot load the signing key {path}: not a PEM private key, "
                              "or the passphrase is wrong") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise DriftcheckError(f"the signing key {path} is not an ECDSA P-256 key (the one cosign, OpenSSL "
                              "and sigstore-js all verify)")
    return Signer(key, key_id(key.public_key()))


def load_public(path: Path) -> ec.EllipticCurvePublicKey:
    """A PEM `PUBLIC KEY` (SPKI) as cosign and `keygen` write it."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except OSError as exc:
        raise DriftcheckError(f"cannot read the public key {path}: {exc.strerror}") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise DriftcheckError(f"{path}: not a PEM public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise DriftcheckError(f"{path}: not an ECDSA P-256 public key")
    return key


def generate(out: Path, secret: bytes | None) -> tuple[Path, Path, str]:
    """Write out/driftcheck.key (0600, encrypted when secret is given) and out/driftcheck.pub; never
    overwrite a key (a lost old key would orphan the archive it signed)."""
    out.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out / PRIVATE_NAME, out / PUBLIC_NAME
    for path in (private_path, public_path):
        if os.path.lexists(path):
            raise DriftcheckError(f"{path} exists; refusing to replace a key")
    key = ec.generate_private_key(ec.SECP256R1())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    _register_pem(pem)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(public_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as file:
        file.write(public_pem)
    return private_path, public_path, key_id(key.public_key())


def _register_pem(data: bytes) -> None:
    """Each base64 line of a private key's PEM is a credential for the scrubber."""
    text = data.decode("ascii", errors="replace")
    scrub.register(text, *(line for line in text.splitlines() if not line.startswith("-----")))
