"""Sigstore bundle v0.3 (protobuf-JSON) around one DSSE envelope, keyed by `publicKey.hint` only.

No tlog entries, no certificate: cosign (>= v3.0.4, `--key --insecure-ignore-tlog`), sigstore-go and
sigstore-js accept it offline; a v0.3 bundle with zero tlog entries is valid there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from driftcheck.evidence import dsse, keys, statement
from driftcheck.evidence.keys import Signer

MEDIA_TYPES = ("application/vnd.dev.sigstore.bundle.v0.3+json",
               "application/vnd.dev.sigstore.bundle+json;version=0.3")  # the second is what cosign writes
FILE_NAME = "report.sigstore.json"


@dataclass(frozen=True)
class Bundle:
    """A read bundle: the envelope, its payload bytes and their sha256, the Statement they hold."""

    envelope: dict[str, Any]
    body: bytes
    body_sha256: str
    hint: str
    statement: statement.Statement


def make(body: bytes, signer: Signer) -> bytes:
    data = {"mediaType": MEDIA_TYPES[0],
            "verificationMaterial": {"publicKey": {"hint": keys.hint(signer.public)}, "tlogEntries": []},
            "dsseEnvelope": dsse.sign(body, signer)}
    return (json.dumps(data, indent=2) + "\n").encode()


def parse(data: bytes) -> Bundle:
    """ValueError (dsse.EnvelopeError included) saying what is wrong; the signature is not checked."""
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"not JSON: {str(exc)[:120]}") from exc
    if not isinstance(document, dict) or document.get("mediaType") not in MEDIA_TYPES:
        raise ValueError("not a Sigstore bundle v0.3")
    material = document.get("verificationMaterial")
    hint = material.get("publicKey", {}).get("hint") if isinstance(material, dict) else None
    body = dsse.payload(document.get("dsseEnvelope"))
    try:
        parsed = statement.decode(body)
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"its payload: {exc}") from exc
    return Bundle(document["dsseEnvelope"], body, hashlib.sha256(body).hexdigest(), str(hint or ""), parsed)


def signature_ok(bundle: Bundle, public: ec.EllipticCurvePublicKey) -> bool:
    try:
        dsse.verify(bundle.envelope, public)
    except dsse.EnvelopeError:
        return False
    return True
