"""The per-cluster hash chain: each run's statement names its sequence number and the sha256 of the
previous run's statement; every bundle is also kept as `<cluster>/chain/<seq:08d>.sigstore.json`, which
`--keep` never prunes.

`sign_run` is called under the archive lock, with the run's files complete in the staging directory.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftcheck.evidence import bundle, statement
from driftcheck.evidence.keys import Signer
from driftcheck.model import DriftcheckError

CHAIN_DIR = "chain"


@dataclass(frozen=True)
class Head:
    """The newest link of a cluster's chain, as the next run needs it."""

    chain_id: str
    seq: int
    run: str
    statement_sha256: str
    report_sha256: str
    generated_at: str


def link_name(seq: int) -> str:
    return f"{seq:08d}.sigstore.json"


def link_of(read: bundle.Bundle) -> dict[str, Any]:
    """The `chain` object of a read bundle's predicate ({} when it has none of the right shape)."""
    link = read.statement.predicate.get("chain")
    return link if isinstance(link, dict) and isinstance(link.get("seq"), int) else {}


def head(cluster_dir: Path, warn: Callable[[str], None]) -> Head | None:
    """The highest-numbered readable link in chain/; an unreadable one is told to warn and passed over."""
    directory = cluster_dir / CHAIN_DIR
    if directory.is_symlink():
        raise DriftcheckError(f"{directory} is a symbolic link; refusing to write the chain through it")
    if not directory.is_dir():
        return None
    for path in sorted(directory.glob("*.sigstore.json"), reverse=True):
        try:
            found = head_of(bundle.parse(path.read_bytes()))
        except (OSError, ValueError) as exc:
            warn(f"{path}: not a chain link the next run can follow ({exc}); passed over")
            continue
        if found is None:
            warn(f"{path}: its statement has no chain link; passed over")
            continue
        return found
    return None


def head_of(read: bundle.Bundle) -> Head | None:
    """What the run after this bundle's needs of it; None when its statement has no chain link."""
    link, predicate = link_of(read), read.statement.predicate
    if not link:
        return None
    return Head(str(link.get("id")), link["seq"], str((predicate.get("run") or {}).get("name")),
                read.body_sha256, read.statement.subjects.get("report.json", ""),
                str((predicate.get("report") or {}).get("generatedAt")))


def chain_id(cluster: str, run: str, key_id: str) -> str:
    genesis = json.dumps({"cluster": cluster, "genesisKeyId": key_id, "genesisRun": run}, sort_keys=True)
    return "sha256:" + hashlib.sha256(genesis.encode()).hexdigest()


def sign_run(stage: Path, doc: dict[str, Any], signer: Signer, cluster: str, run: str,
             previous: Head | None) -> tuple[int, bytes]:
    """Hash every file in stage, sign the Statement, write stage/report.sigstore.json; -> (seq, bundle)."""
    subjects = {p.name: statement.file_sha256(p) for p in sorted(stage.iterdir()) if p.is_file()}
    seq = previous.seq + 1 if previous else 1
    link: dict[str, Any] = {
        "id": previous.chain_id if previous else chain_id(cluster, run, signer.key_id), "seq": seq,
        "previous": None if previous is None else {
            "seq": previous.seq, "run": previous.run, "statementSha256": previous.statement_sha256,
            "reportSha256": previous.report_sha256}}
    predicate = statement.run_predicate(doc, run, link, signer.key_id,
                                        previous.generated_at if previous else None)
    data = bundle.make(statement.encode(subjects, predicate), signer)
    (stage / bundle.FILE_NAME).write_bytes(data)
    return seq, data


def keep_link(cluster_dir: Path, seq: int, data: bytes) -> Path:
    """chain/<seq>.sigstore.json, created exclusively (a second claim on one seq fails, never replaces)."""
    directory = cluster_dir / CHAIN_DIR
    directory.mkdir(exist_ok=True)
    path = directory / link_name(seq)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return path
