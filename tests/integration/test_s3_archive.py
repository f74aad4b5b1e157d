"""`check --out s3://` and `verify --archive s3://` against moto's S3 server on loopback: every object
written once under Object Lock retention, the manifest last, drift age read back from the bucket, a
seq taken by another run (412) followed or refused, deletions and unretained objects named, a bucket
without Object Lock refused before anything is written, and the AWS secret key in no output."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from driftcheck.evidence.s3_check import verify_s3_archive
from driftcheck.model import DriftcheckError
from driftcheck.report import present
from driftcheck.report.s3archive import publish, stage, write_reports_s3
from driftcheck.report.s3store import Retention, S3Store, S3Target
from testing import planted
from testing.s3_server import S3Server, s3_server
from testing.signed_archive import key_pair, nightly, small_report

DEMO_APPS = ("--argocd-apps", "argocd/demo-app.yaml", "--repo-url",
             "https://git.example.com/platform/shop-gitops.git")
GOVERNANCE = Retention("GOVERNANCE", 3)


@pytest.fixture(scope="module")
def server() -> S3Server:
    with s3_server(planted.secret("aws-secret-key")) as running:
        yield running


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("demo-for-s3")
    made = planted.run_cli(["demo", "--out", str(base / "out")], base / "logs")
    return Path(made.stdout.rsplit("demo repository and snapshot: ", 1)[1].strip())


def store(server: S3Server, bucket: str, prefix: str = "") -> S3Store:
    import os

    os.environ.update(server.env())
    return S3Store(S3Target(bucket, prefix), server.endpoint)


def cli(server: S3Server, logs: Path, *args: str):
    return planted.run_cli([*args], logs, env=server.env())


def check(server: S3Server, demo: Path, logs: Path, out: str, *extra: str):
    return cli(server, logs, "check", "--repo", str(demo / "shop-gitops"), *DEMO_APPS, "--live-snapshot",
               str(demo / "live-snapshot.yaml"), "--out", out, "--s3-endpoint", server.endpoint, "-o", "none",
               *extra)


def test_check_writes_a_locked_archive_and_verify_reads_it_back(server: S3Server, demo: Path,
                                                                 tmp_path: Path) -> None:
    bucket = server.bucket("evidence-e2e")
    _, public = key_pair(tmp_path / "keys")
    sign = ("--sign-key", str(tmp_path / "keys" / "driftcheck.key"))
    out = f"s3://{bucket}/driftcheck/prod"
    first = check(server, demo, tmp_path / "logs", out, *sign, "--retain-mode", "GOVERNANCE",
                  "--retain-days", "3")
    assert first.returncode == 1, first.stderr
    assert "signed and chained as seq 1" in first.stderr and "GOVERNANCE retention, 3 days" in first.stderr
    second = check(server, demo, tmp_path / "logs", out, *sign, "--retain-mode", "GOVERNANCE",
                   "--retain-days", "3")
    assert second.returncode == 1 and "seq 2" in second.stderr, second.stderr
    client = server.client()
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    runs = sorted({k.split("/")[3] for k in keys if "/chain/" not in k})
    assert len(runs) == 2
    assert keys.count("driftcheck/prod/demo/chain/00000001.sigstore.json") == 1
    for run in runs:
        names = {k.rsplit("/", 1)[1] for k in keys if f"/{run}/" in k}
        assert names == {"report.json", "report.html", "report.sigstore.json", "manifest.json"}
    for key in keys:
        head = client.head_object(Bucket=bucket, Key=key)
        doc_time = head["LastModified"]
        assert head["ObjectLockMode"] == "GOVERNANCE", key
        assert abs(head["ObjectLockRetainUntilDate"] - doc_time - timedelta(days=3)) < timedelta(minutes=5)
    docs = [json.loads(client.get_object(Bucket=bucket, Key=f"driftcheck/prod/demo/{r}/report.json")["Body"]
                       .read()) for r in runs]
    drifted = [r for r in docs[1]["resources"] if r["status"] == "drifted"]
    assert drifted and all(r["first_seen"] == docs[0]["generated_at"] for r in drifted)  # drift age from S3
    verified = cli(server, tmp_path / "logs", "verify", "--archive", out, "--s3-endpoint", server.endpoint,
                   "--key", str(public))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "demo: OK: 2 link(s), seq 1-2" in verified.stdout


def test_deleted_and_unretained_objects_are_named(server: S3Server, demo: Path, tmp_path: Path) -> None:
    bucket = server.bucket("evidence-deleted")
    signer, public = key_pair(tmp_path / "keys")
    s3 = store(server, bucket, "p")
    written = [write_reports_s3(small_report(at), s3, GOVERNANCE, ["html", "json"], signer=signer)
               for at in nightly(4)]
    client = server.client()
    client.delete_object(Bucket=bucket, Key=f"p/prod/{written[1].run}/report.json")  # a delete marker
    client.delete_object(Bucket=bucket, Key="p/prod/chain/00000003.sigstore.json")
    client.put_object(Bucket=bucket, Key=f"p/prod/{written[3].run}/report.md", Body=b"planted, unlocked")
    [verdict] = verify_s3_archive(s3, load(public))
    messages = "\n".join(f.message for f in verdict.findings)
    kinds = sorted(f.kind for f in verdict.findings)
    assert f"{written[1].run}/ OBJECTS DELETED: report.json" in messages
    assert f"s3://{bucket}/p/prod/{written[1].run}/report.json DELETED: a delete marker" in messages
    assert "locked version(s) still in the bucket" in messages
    assert "chain/00000003.sigstore.json DELETED" in messages
    assert f"{written[3].run}/report.md NOT RETAINED" in messages
    assert "REPORT DELETED" in messages or "MODIFIED" in messages
    assert "delete-marker" in kinds and "unretained" in kinds
    cli_run = cli(server, tmp_path / "logs", "verify", "--archive", f"s3://{bucket}/p", "--s3-endpoint",
                  server.endpoint, "--key", str(public))
    assert cli_run.returncode == 1 and "NOT RETAINED" in cli_run.stdout, cli_run.stdout + cli_run.stderr


def load(public: Path):
    from driftcheck.evidence.keys import load_public

    return load_public(public)


def test_a_seq_taken_meanwhile_is_followed_by_a_later_run_and_refused_to_an_earlier_one(
        server: S3Server, tmp_path: Path) -> None:
    bucket = server.bucket("evidence-race")
    signer, public = key_pair(tmp_path / "keys")
    s3 = store(server, bucket)
    times = nightly(4)
    write_reports_s3(small_report(times[0]), s3, GOVERNANCE, ["json"], signer=signer)
    told: list[str] = []
    # both runs read the bucket (head = seq 1) before either publishes
    earlier = stage(small_report(times[1]), s3, tmp_path / "a", ["json"], None, None, told.append, signer)
    later = stage(small_report(times[2]), s3, tmp_path / "b", ["json"], None, None, told.append, signer)
    assert publish(earlier, s3, GOVERNANCE, told.append).seq == 2
    followed = publish(later, s3, GOVERNANCE, told.append)
    assert followed.seq == 3 and any("seq 2 of prod was taken" in m for m in told)
    # a run older than the one that took its seq is refused, and writes nothing
    older = stage(small_report(times[3]), s3, tmp_path / "c", ["json"], None, None, told.append, signer)
    newest = stage(small_report((present.parse_time(times[3]) + timedelta(hours=1)).isoformat()), s3,
                   tmp_path / "d", ["json"], None, None, told.append, signer)
    assert publish(newest, s3, GOVERNANCE, told.append).seq == 4
    before = s3.keys("")
    with pytest.raises(DriftcheckError, match=r"not older than this run.*nothing of this run was written"):
        publish(older, s3, GOVERNANCE, told.append)
    assert s3.keys("") == before
    [verdict] = verify_s3_archive(s3, load(public))
    assert verdict.findings == [] and verdict.last_seq == 4


def test_two_runs_publishing_at_once_never_share_a_seq(server: S3Server, tmp_path: Path) -> None:
    bucket = server.bucket("evidence-threads")
    signer, public = key_pair(tmp_path / "keys")
    s3 = store(server, bucket)
    times = nightly(3)
    write_reports_s3(small_report(times[0]), s3, GOVERNANCE, ["json"], signer=signer)
    staged = [stage(small_report(at), s3, tmp_path / str(i), ["json"], None, None, None, signer)
              for i, at in enumerate(times[1:])]
    results: list[object] = [None, None]

    def go(i: int) -> None:
        try:
            results[i] = publish(staged[i], s3, GOVERNANCE, lambda _m: None).seq
        except DriftcheckError as exc:
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seqs = [r for r in results if isinstance(r, int)]
    assert len(set(seqs)) == len(seqs) and 2 in seqs, results
    failed = [r for r in results if isinstance(r, DriftcheckError)]
    assert all("not older than this run" in str(e) for e in failed)  # only the earlier run may lose
    [verdict] = verify_s3_archive(s3, load(public))
    assert verdict.findings == [] and verdict.last_seq == 1 + len(seqs)


def test_a_bucket_without_object_lock_is_refused_before_the_audit(server: S3Server, demo: Path,
                                                                   tmp_path: Path) -> None:
    bucket = server.bucket("evidence-unlocked", object_lock=False)
    run = check(server, demo, tmp_path / "logs", f"s3://{bucket}/x")
    assert run.returncode == 2
    assert f"s3://{bucket}: Object Lock is not enabled on this bucket" in run.stderr
    assert "Traceback" not in run.stderr
    assert "Contents" not in server.client().list_objects_v2(Bucket=bucket)
    keep = check(server, demo, tmp_path / "logs", f"s3://{bucket}/x", "--keep", "3")
    assert keep.returncode == 2 and "--keep does not apply to --out s3://" in keep.stderr
