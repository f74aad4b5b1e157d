"""DSSE envelopes (secure-systems-lab/dsse v1): the pre-authentication encoding, one ECDSA signature.

cosign's traps, held here: payloadType is exactly the in-toto media type (sigstore-go parses the Statement
only then); the signature is DER, over PAE rather than the payload; `keyid` is "" (go-securesystemslib
skips a signature whose non-empty keyid differs from the id it computes for the key).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from driftcheck.evidence.keys import Signer

PAYLOAD_TYPE = "application/vnd.in-toto+json"


class EnvelopeError(ValueError):
    """An envelope that is malformed or whose signature does not verify."""


def pae(payload_type: str, body: bytes) -> bytes:
    """`DSSEv1 SP LEN(type) SP type SP LEN(body) SP body`, lengths in bytes as ASCII decimal."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(body), body)


def sign(body: bytes, signer: Signer) -> dict[str, Any]:
    signature = signer.sign(pae(PAYLOAD_TYPE, body))
    return {"payload": base64.b64encode(body).decode(), "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}]}


def payload(envelope: Any) -> bytes:
    """The envelope's body bytes, unverified; the shape is checked (one signature, the in-toto type)."""
    if not isinstance(envelope, dict):
        raise EnvelopeError("the DSSE envelope is not an object")
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise EnvelopeError(f"payloadType {str(envelope.get('payloadType'))[:60]!r} is not {PAYLOAD_TYPE}")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1 or not isinstance(signatures[0], dict):
        raise EnvelopeError("a bundle's DSSE envelope must carry exactly one signature")
    return _b64(envelope.get("payload"), "payload")


def verify(envelope: Any, public: ec.EllipticCurvePublicKey) -> bytes:
    """The body, once its signature verifies against public; EnvelopeError otherwise."""
    body = payload(envelope)
    signature = _b64(envelope["signatures"][0].get("sig"), "signature")
    try:
        public.verify(signature, pae(PAYLOAD_TYPE, body), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise EnvelopeError("the signature does not verify with the given key") from exc
    return body


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise EnvelopeError(f"the envelope's {what} is not a string")
    try:
        return base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(f"the envelope's {what} is not base64") from exc
