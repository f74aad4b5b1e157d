"""DSSE and the bundle: PAE bytes as the spec gives them, a round trip, and every flipped byte refused."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from driftcheck.evidence import bundle, dsse, statement
from driftcheck.evidence.keys import Signer, spki_der
from testing.signed_archive import key_pair


def test_pae_is_the_spec_encoding() -> None:
    # secure-systems-lab/dsse protocol.md: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world")
    assert dsse.pae("application/vnd.in-toto+json", "é".encode()) == (
        b"DSSEv1 28 application/vnd.in-toto+json 2 \xc3\xa9")  # lengths in bytes, not characters


def test_bundle_shape_keeps_clear_of_the_cosign_traps(tmp_path: Path) -> None:
    signer, _ = key_pair(tmp_path)
    body = statement.encode({"report.json": "ab" * 32}, {"x": 1})
    data = json.loads(bundle.make(body, signer))
    assert data["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert set(data) == {"mediaType", "verificationMaterial", "dsseEnvelope"}
    assert data["verificationMaterial"] == {"publicKey": {"hint": signer_hint(signer)}, "tlogEntries": []}
    envelope = data["dsseEnvelope"]
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert [s["keyid"] for s in envelope["signatures"]] == [""]
    assert base64.b64decode(envelope["payload"]) == body
    assert base64.b64decode(envelope["signatures"][0]["sig"])[0] == 0x30  # ASN.1 DER SEQUENCE, not raw r||s
    parsed = json.loads(body)
    assert set(parsed) == {"_type", "subject", "predicateType", "predicate"}  # strict protojson downstream


def signer_hint(signer: Signer) -> str:
    return base64.b64encode(hashlib.sha256(spki_der(signer.public)).digest()).decode()


def test_round_trip_and_every_flipped_byte_is_refused(tmp_path: Path) -> None:
    signer, _ = key_pair(tmp_path)
    body = statement.encode({"report.json": "ab" * 32, "report.html": "cd" * 32}, {"run": {"name": "r"}})
    read = bundle.parse(bundle.make(body, signer))
    assert read.body == body and bundle.signature_ok(read, signer.public)
    assert read.statement.subjects == {"report.json": "ab" * 32, "report.html": "cd" * 32}
    signature = base64.b64decode(read.envelope["signatures"][0]["sig"])
    for i in range(0, len(body), max(1, len(body) // 40)):
        flipped = body[:i] + bytes([body[i] ^ 1]) + body[i + 1:]
        assert not _verifies({**read.envelope, "payload": base64.b64encode(flipped).decode()}, signer)
    for i in range(len(signature)):
        bad = signature[:i] + bytes([signature[i] ^ 1]) + signature[i + 1:]
        assert not _verifies({**read.envelope, "signatures": [{"sig": base64.b64encode(bad).decode(),
                                                                "keyid": ""}]}, signer)


def test_a_wrong_key_or_a_second_signature_or_another_type_is_refused(tmp_path: Path) -> None:
    signer, _ = key_pair(tmp_path / "a")
    other, _ = key_pair(tmp_path / "b")
    envelope = dsse.sign(b"{}", signer)
    with pytest.raises(dsse.EnvelopeError, match="does not verify"):
        dsse.verify(envelope, other.public)
    with pytest.raises(dsse.EnvelopeError, match="exactly one signature"):
        dsse.verify({**envelope, "signatures": envelope["signatures"] * 2}, signer.public)
    with pytest.raises(dsse.EnvelopeError, match="payloadType"):
        dsse.verify({**envelope, "payloadType": "application/json"}, signer.public)


def _verifies(envelope: dict[str, object], signer: Signer) -> bool:
    try:
        dsse.verify(envelope, signer.public)
    except dsse.EnvelopeError:
        return False
    return True
