"""The in-toto Statement v1 a run signs: its report files as subjects, run metadata and chain link as the
predicate.

Written compact with sorted keys, and the bytes written are the bytes signed. No extra top-level fields:
sigstore-go reads the Statement with strict protojson, so everything of ours lives in `predicate`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://github.com/driftcheck/driftcheck/attestation/drift-report/v1"


@dataclass(frozen=True)
class Statement:
    """A parsed Statement: subject name -> sha256 hex, and the predicate as JSON."""

    subjects: dict[str, str]
    predicate_type: str
    predicate: dict[str, Any]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def encode(subjects: dict[str, str], predicate: dict[str, Any],
           predicate_type: str = PREDICATE_TYPE) -> bytes:
    described = [{"name": name, "digest": {"sha256": subjects[name]}} for name in sorted(subjects)]
    statement = {"_type": STATEMENT_TYPE, "subject": described,
                 "predicateType": predicate_type, "predicate": predicate}
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode(body: bytes) -> Statement:
    """ValueError naming what is wrong when body is not a driftcheck Statement."""
    data = json.loads(body)
    if not isinstance(data, dict) or data.get("_type") != STATEMENT_TYPE:
        raise ValueError("not an in-toto Statement v1")
    if data.get("predicateType") != PREDICATE_TYPE:
        raise ValueError(f"predicateType {str(data.get('predicateType'))[:80]!r} is not driftcheck's")
    subjects: dict[str, str] = {}
    for entry in data.get("subject") or []:
        digest = entry.get("digest") if isinstance(entry, dict) else None
        if not isinstance(digest, dict) or not isinstance(digest.get("sha256"), str):
            raise ValueError("a subject without a sha256 digest")
        subjects[str(entry.get("name"))] = digest["sha256"]
    predicate = data.get("predicate")
    if not subjects or not isinstance(predicate, dict):
        raise ValueError("no subjects, or no predicate object")
    return Statement(subjects, PREDICATE_TYPE, predicate)


def run_predicate(doc: dict[str, Any], run: str, chain: dict[str, Any], key_id: str,
                  period_start: str | None) -> dict[str, Any]:
    """What a run attests beside its files: the report's own seal, source, cluster, tool, the period since
    the previous run, and its place in the chain (lowerCamelCase, the in-toto convention)."""
    source = doc.get("source") or {}
    return {
        "report": {"schema": doc["schema"], "contentDigest": f"sha256:{doc['digest']}",
                   "generatedAt": doc["generated_at"], "summary": doc["summary"]},
        "source": {"repo": source.get("repo"), "revision": source.get("revision"),
                   "commit": source.get("commit"), "commitDate": source.get("commit_date"),
                   "at": source.get("at")},
        "cluster": dict(doc.get("cluster") or {}),
        "tool": dict(doc["tool"]),
        "period": {"start": period_start, "end": doc["generated_at"]},
        "run": {"name": run},
        "chain": chain,
        "signer": {"keyId": key_id},
    }
