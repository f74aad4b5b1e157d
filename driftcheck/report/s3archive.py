"""`check --out s3://bucket/prefix`: the run's archive entry written once to an Object Lock bucket.

The S3 layout is the directory archive's, `<cluster>/<run>/report.*` and
`<cluster>/chain/<seq>.sigstore.json`, plus `<cluster>/<run>/manifest.json`, written last: a run is
complete (read for drift age, verified as published) only once its manifest exists. The run is first
written by `write_reports` into a local staging archive holding what it needs of the bucket (the newest
complete runs' report.json for first_seen, the newest chain links for the head), then published:

1. a signed run claims its seq by creating `chain/<seq>` with `If-None-Match: *`. When another run took
   that seq first (412), this run is signed again as the next link after it, if it is later than that
   run; if it is not, the chain would go back in time, and the run fails naming the other run, having
   written nothing to the bucket;
2. the run's files, each created once;
3. the manifest (names, sha256, version ids).

Every object carries `ObjectLockMode` and `ObjectLockRetainUntilDate` = the run's time + --retain-days.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from driftcheck.evidence import bundle, chain
from driftcheck.evidence.keys import Signer
from driftcheck.evidence.statement import file_sha256
from driftcheck.model import AuditReport, DriftcheckError
from driftcheck.report import archive, json_report, present
from driftcheck.report.s3store import Retention, S3Store, Taken
from driftcheck.report.write import write_reports

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "https://github.com/driftcheck/driftcheck/s3-run/v1"
RECENT_RUNS = 30  # complete runs read for drift age: each stores the first_seen it inherited
HEAD_LINKS = 3  # newest chain links read: an unreadable newest one is passed over, as in a directory
CLAIMS = 5  # seqs tried before giving up: each retry follows a run that published meanwhile


@dataclass
class S3Written:
    run: str
    urls: list[str] = field(default_factory=list)  # the run's report objects, in --format order
    manifest: str = ""
    seq: int | None = None
    chain_link: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class Staged:
    """A run written locally and signed, not yet in the bucket."""

    report: AuditReport
    cluster: str
    run_dir: Path
    names: list[str]  # report files in --format order
    signer: Signer | None


def run_key(cluster: str, run: str, name: str) -> str:
    return f"{cluster}/{run}/{name}"


def write_reports_s3(report: AuditReport, store: S3Store, retention: Retention, formats: list[str],
                     metrics_file: Path | None = None, pushgateway: str | None = None,
                     on_wait: Callable[[str], None] | None = None,
                     signer: Signer | None = None) -> S3Written:
    """Stage, then publish; see the module docstring."""
    with tempfile.TemporaryDirectory(prefix="driftcheck-s3-") as tmp:
        staged = stage(report, store, Path(tmp), formats, metrics_file, pushgateway, on_wait, signer)
        return publish(staged, store, retention, on_wait or (lambda _m: None))


def stage(report: AuditReport, store: S3Store, local: Path, formats: list[str],
          metrics_file: Path | None, pushgateway: str | None, on_wait: Callable[[str], None] | None,
          signer: Signer | None) -> Staged:
    cluster = archive.cluster_slug(report.cluster)
    pull_recent(store, cluster, local / cluster)
    written = write_reports(report, local, formats, metrics_file=metrics_file, pushgateway=pushgateway,
                            on_wait=on_wait, signer=signer)
    names = [p.name for p in written.paths]
    return Staged(report, cluster, written.run_dir, names, signer)


def pull_recent(store: S3Store, cluster: str, into: Path) -> None:
    """What the next run needs of the bucket: every run name (so a new run's name is new), the newest
    complete runs' report.json, the newest chain links."""
    runs: dict[str, set[str]] = {}
    links = []
    for key in store.keys(f"{cluster}/"):
        parts = key.split("/")
        if len(parts) != 3 or parts[0] != cluster:
            continue
        if parts[1] == chain.CHAIN_DIR:
            links.append(parts[2])
        elif archive.RUN_NAME.match(parts[1]):
            runs.setdefault(parts[1], set()).add(parts[2])
    for run in runs:
        (into / run).mkdir(parents=True, exist_ok=True)
    complete = sorted((r for r, names in runs.items() if MANIFEST in names and "report.json" in names),
                      key=lambda r: (r[:16], int(r.partition("-")[2] or 1)))
    for run in complete[-RECENT_RUNS:]:
        data = store.get(run_key(cluster, run, "report.json"))
        if data is not None:
            (into / run / "report.json").write_bytes(data)
    (into / chain.CHAIN_DIR).mkdir(parents=True, exist_ok=True)
    for name in sorted(n for n in links if n.endswith(".sigstore.json"))[-HEAD_LINKS:]:
        data = store.get(f"{cluster}/{chain.CHAIN_DIR}/{name}")
        if data is not None:
            (into / chain.CHAIN_DIR / name).write_bytes(data)


def publish(staged: Staged, store: S3Store, retention: Retention, tell: Callable[[str], None]) -> S3Written:
    run_dir, cluster = staged.run_dir, staged.cluster
    moment = present.parse_time(staged.report.generated_at)
    if moment is None:
        raise DriftcheckError(f"report generated_at is not a time: {staged.report.generated_at!r}")
    until = moment + timedelta(days=retention.days)
    written = S3Written(run_dir.name)
    if staged.signer is not None:
        written.seq = _claim(staged, store, retention, until, tell)
        written.chain_link = store.target.url(f"{cluster}/{chain.CHAIN_DIR}/{chain.link_name(written.seq)}")
    objects: dict[str, dict[str, str]] = {}
    for path in sorted(run_dir.iterdir()):
        rest = run_key(cluster, run_dir.name, path.name)
        try:
            version = store.put_new(rest, path.read_bytes(), retention, until)
        except Taken as exc:
            raise DriftcheckError(f"{exc}: another run already wrote this object; this run's manifest "
                                  "was not written, so the run is not published") from exc
        objects[path.name] = {"sha256": file_sha256(path), "versionId": version}
    manifest = {"schema": MANIFEST_SCHEMA, "cluster": cluster, "run": run_dir.name, "seq": written.seq,
                "generatedAt": staged.report.generated_at, "objects": objects}
    rest = run_key(cluster, run_dir.name, MANIFEST)
    try:
        body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        store.put_new(rest, body, retention, until)
    except Taken as exc:
        raise DriftcheckError(f"{exc}: another run already published this run name") from exc
    written.manifest = store.target.url(rest)
    written.urls = [store.target.url(run_key(cluster, run_dir.name, n)) for n in staged.names]
    return written


def _claim(staged: Staged, store: S3Store, retention: Retention, until: datetime,
           tell: Callable[[str], None]) -> int:
    """Create chain/<seq>; on a 412, follow the run that took it (see the module docstring)."""
    run_dir, cluster = staged.run_dir, staged.cluster
    assert staged.signer is not None
    for _ in range(CLAIMS):
        data = (run_dir / bundle.FILE_NAME).read_bytes()
        seq = chain.link_of(bundle.parse(data))["seq"]
        rest = f"{cluster}/{chain.CHAIN_DIR}/{chain.link_name(seq)}"
        try:
            store.put_new(rest, data, retention, until)
        except Taken:
            pass
        else:
            return int(seq)
        newest = _newest_head(store, cluster)
        if newest is None:
            raise DriftcheckError(f"{store.target.url(rest)} exists but no chain link under "
                                  f"{store.target.url(cluster + '/chain/')} can be read")
        ours, theirs = present.parse_time(staged.report.generated_at), present.parse_time(newest.generated_at)
        if ours is None or theirs is None or theirs >= ours:
            raise DriftcheckError(
                f"seq {seq} of {cluster} was taken by run {newest.run} (seq {newest.seq}, generated at "
                f"{newest.generated_at}), which is not older than this run ({staged.report.generated_at}); "
                "chaining after it would put the chain out of order, so nothing of this run was written "
                f"to {store.target.url()}")
        tell(f"seq {seq} of {cluster} was taken by run {newest.run}; this run becomes seq {newest.seq + 1}")
        (run_dir / bundle.FILE_NAME).unlink()
        doc = json_report.parse((run_dir / "report.json").read_text("utf-8"))
        chain.sign_run(run_dir, doc, staged.signer, cluster, run_dir.name, newest)
    raise DriftcheckError(f"{cluster}: {CLAIMS} sequence numbers in a row were taken by other runs; "
                          f"nothing of this run was written to {store.target.url()}")


def _newest_head(store: S3Store, cluster: str) -> chain.Head | None:
    names = [k.rsplit("/", 1)[1] for k in store.keys(f"{cluster}/{chain.CHAIN_DIR}/")]
    for name in sorted(names, reverse=True)[:HEAD_LINKS]:
        data = store.get(f"{cluster}/{chain.CHAIN_DIR}/{name}")
        try:
            found = chain.head_of(bundle.parse(data or b""))
        except ValueError:
            continue
        if found is not None:
            return found
    return None

