"""`verify --archive s3://bucket/prefix`: the chain checked as in a directory, plus what only the bucket
can say.

The bucket's current objects are copied into a temporary directory in the archive's layout and checked by
`archive_check.verify_archive` (edits, deletions, gaps, forks, missed slots, force-pushes). Then, from the
bucket itself: delete markers (a deleted object; its locked version may still be there), a key with more
than one version (overwritten), an object without Object Lock retention, a run without its manifest (not
completely published), and an object a manifest lists that is gone.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from driftcheck.evidence import chain
from driftcheck.evidence.archive_check import ClusterVerdict, Finding, verify_archive
from driftcheck.report import archive
from driftcheck.report.s3store import S3Store, Version

MANIFEST = "manifest.json"  # report/s3archive.MANIFEST (not imported: report imports evidence)
FILE = re.compile(r"^report\.(json|html|md|xml|sigstore\.json)$")
LINK = re.compile(r"^\d{8}\.sigstore\.json$")
CLUSTER = re.compile(r"^[A-Za-z0-9._-]+$")


def verify_s3_archive(store: S3Store, public: ec.EllipticCurvePublicKey | None, cron: str | None = None,
                      repo: Path | None = None) -> list[ClusterVerdict]:
    keys = store.keys("")
    versions = store.versions("")
    with tempfile.TemporaryDirectory(prefix="driftcheck-verify-s3-") as tmp:
        local, odd = Path(tmp), []
        manifests: dict[tuple[str, str], bytes] = {}
        for key in keys:
            parts = key.split("/")
            if len(parts) != 3 or not CLUSTER.match(parts[0]) or parts[0].startswith("."):
                odd.append(key)
            elif (parts[1] == chain.CHAIN_DIR and LINK.match(parts[2])) or (
                    archive.RUN_NAME.match(parts[1]) and FILE.match(parts[2])):
                path = local.joinpath(*parts)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(store.get(key) or b"")
            elif archive.RUN_NAME.match(parts[1]) and parts[2] == MANIFEST:
                manifests[(parts[0], parts[1])] = store.get(key) or b""
            else:
                odd.append(key)
        verdicts = {v.cluster: v for v in verify_archive(local, public, cron, repo)}
    for key in odd:
        _verdict(verdicts, key).notes.append(f"{store.target.url(key)}: not an archive object; not checked")
    _manifests(store, keys, manifests, verdicts)
    _versions(store, versions, verdicts)
    _retention(store, keys, verdicts)
    for verdict in verdicts.values():
        verdict.findings.sort(key=lambda f: (f.seq if f.seq is not None else 0, f.kind))
    return [verdicts[name] for name in sorted(verdicts)]


def _verdict(verdicts: dict[str, ClusterVerdict], key: str) -> ClusterVerdict:
    cluster = key.split("/", 1)[0]
    return verdicts.setdefault(cluster, ClusterVerdict(cluster))


def _manifests(store: S3Store, keys: list[str], manifests: dict[tuple[str, str], bytes],
               verdicts: dict[str, ClusterVerdict]) -> None:
    present = set(keys)
    runs = {(k.split("/")[0], k.split("/")[1]) for k in keys
            if k.count("/") == 2 and archive.RUN_NAME.match(k.split("/")[1])}
    for cluster, run in sorted(runs | set(manifests)):
        verdict = _verdict(verdicts, cluster)
        url = store.target.url(f"{cluster}/{run}/")
        if (cluster, run) not in manifests:
            verdict.findings.append(Finding("incomplete", None, run, (
                f"{url} INCOMPLETE: no {MANIFEST}: the run did not finish publishing (or is doing so now)")))
            continue
        try:
            listed = json.loads(manifests[(cluster, run)])["objects"]
            names = [str(name) for name in listed]
        except (ValueError, KeyError, TypeError):
            verdict.findings.append(Finding("unreadable", None, run, f"{url}{MANIFEST} UNREADABLE"))
            continue
        gone = [name for name in names if f"{cluster}/{run}/{name}" not in present]
        if gone:
            verdict.findings.append(Finding("deleted", None, run, (
                f"{url} OBJECTS DELETED: {', '.join(gone)} (listed in its {MANIFEST})")))


def _versions(store: S3Store, versions: list[Version], verdicts: dict[str, ClusterVerdict]) -> None:
    by_key: dict[str, list[Version]] = defaultdict(list)
    for version in versions:
        by_key[version.key].append(version)
    for key, found in sorted(by_key.items()):
        markers = [v for v in found if v.delete_marker]
        kept = [v for v in found if not v.delete_marker]
        run = key.split("/")[1] if key.count("/") == 2 else ""
        if markers:
            when = max((m.modified for m in markers if m.modified), default=None)
            still = (f"; {len(kept)} locked version(s) still in the bucket, e.g. {kept[0].version_id}"
                     if kept else "")
            _verdict(verdicts, key).findings.append(Finding("delete-marker", None, run, (
                f"{store.target.url(key)} DELETED: a delete marker"
                f"{' of ' + when.isoformat() if when else ''} hides it{still}")))
        if len(kept) > 1:
            _verdict(verdicts, key).findings.append(Finding("overwritten", None, run, (
                f"{store.target.url(key)} OVERWRITTEN: {len(kept)} versions of a write-once object")))


def _retention(store: S3Store, keys: list[str], verdicts: dict[str, ClusterVerdict]) -> None:
    now = datetime.now(UTC)
    for key in keys:
        lock = store.lock(key)
        if lock is None:
            continue
        run = key.split("/")[1] if key.count("/") == 2 else ""
        if not lock.mode:
            _verdict(verdicts, key).findings.append(Finding("unretained", None, run, (
                f"{store.target.url(key)} NOT RETAINED: no Object Lock retention: it can be deleted")))
        elif lock.until is not None and lock.until < now:
            _verdict(verdicts, key).notes.append(
                f"{store.target.url(key)}: retention ({lock.mode}) ended {lock.until.isoformat()}")
