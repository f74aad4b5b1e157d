"""The auditor's pack from an archive of real signed `check` runs: runs and their verification, slots and
the night without a run, the population of changes (a deploy, drifts with first/last seen, a revert),
exceptions from a Git repository served on loopback, ignore rules with the commit that introduced them,
and a signed statement over every file of the pack that a flipped byte fails."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from driftcheck.evidence.keys import load_public
from driftcheck.evidence.pack import pack_problems
from testing import evidence_archive, planted
from testing.loopback import serve_git

OPENSSL_SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "verify-with-openssl.sh"
NIGHTS = [1, 2, 3, 4, 5, 6, 8, 9, 10]  # the 7th has no run
pytestmark = pytest.mark.skipif(evidence_archive.FAKETIME is None, reason="faketime not installed")

EXCEPTIONS = """\
exceptions:
  - id: EX-1
    match: {cluster: demo, app: shop, kind: Service, name: web, field: /metadata/annotations/*}
    owner: lena@shop.example
    ticket: OPS-77
    disposition: accepted
    reason: owner annotations are set by the catalogue job
  - id: EX-2
    match: {kind: ConfigMap, name: web-nginx-legacy}
    owner: sam@shop.example
    ticket: OPS-78
    disposition: under-review
    expires: 2026-10-02
  - {id: EX-3, match: {kind: Deployment}, owner: x, ticket: y, disposition: maybe}
"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> evidence_archive.Archive:
    return evidence_archive.build(tmp_path_factory.mktemp("evidence-archive"), NIGHTS)


@pytest.fixture(scope="module")
def exceptions_url(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("exceptions-repo")
    work = base / "compliance"
    work.mkdir()
    (work / "drift").mkdir()
    (work / "drift" / "exceptions.yaml").write_text(EXCEPTIONS)
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    evidence_archive.git(work, "add", ".")
    evidence_archive.git(work, "commit", "-q", "-m", "exceptions for Q4")
    url, daemon = serve_git(work, base / "served", "compliance.git")
    yield url, evidence_archive.git(work, "rev-parse", "HEAD")
    daemon.terminate()
    daemon.wait()


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_the_pack_of_a_period(archive: evidence_archive.Archive, exceptions_url: tuple[str, str],
                              tmp_path: Path) -> None:
    url, exceptions_commit = exceptions_url
    out = tmp_path / "pack"
    done = planted.run_cli(["evidence", "--archive", str(archive.reports), "--from", "2026-10-01", "--to",
                            "2026-10-10", "--out", str(out), "--schedule", "17 2 * * *", "--key",
                            str(archive.public), "--repo", str(archive.repo), "--exceptions-repo", url,
                            "--exceptions", "drift/exceptions.yaml", "--sign-key", str(archive.private)],
                           tmp_path / "logs")
    assert done.returncode == 1, done.stderr  # a night without a run: not complete
    assert "10 slots, 9 with a run, 1 missed (2026-10-07 02:17 UTC)" in done.stdout
    assert "NOT COMPLETE" in done.stdout
    assert "exceptions.yaml:14: disposition 'maybe' is not one of" in done.stderr

    runs = rows(out / "runs.csv")
    assert [r["run"] for r in runs] == [archive.runs[n] for n in NIGHTS]
    assert [r["seq"] for r in runs] == [str(i) for i in range(1, 10)]
    assert {(r["status"], r["signature_ok"]) for r in runs} == {("ok", "yes")}
    assert [s["slot"][:10] for s in rows(out / "slots.csv") if s["status"] == "missed"] == ["2026-10-07"]

    [deploy] = rows(out / "deploys.csv")
    assert deploy["commit"] == archive.deploy_commit and deploy["date"].startswith("2026-10-05T15:30")
    assert deploy["author"] == "Ana Ops <ana@shop.example>"
    assert deploy["first_checked_at"].startswith("2026-10-06T02:17")
    assert (deploy["signature"], deploy["landing"]) == ("unsigned", "direct")  # commit provenance, carried

    drift = {(r["kind"], r["path"]): r for r in rows(out / "drift.csv")}
    image = drift[("Deployment", "/spec/template/spec/containers/0/image")]
    assert image["first_seen"].startswith("2026-10-01T02:17")
    assert image["last_seen"].startswith("2026-10-03T02:17")
    assert image["resolution"] == "reverted" and image["reverted"] == "yes"
    assert image["resolved_at"].startswith("2026-10-04T02:17")
    assert image["manager"] == "kubectl-set" and image["disposition"] == "unexplained"
    owner = drift[("Service", "/metadata/annotations/shop.example.com~1owner")]
    assert (owner["exception"], owner["owner"], owner["ticket"], owner["disposition"]) == (
        "EX-1", "lena@shop.example", "OPS-77", "accepted")
    assert owner["resolved_at"] == "" and owner["last_seen"].startswith("2026-10-10T02:17")
    legacy = drift[("ConfigMap", "")]
    assert legacy["exception"] == "EX-2" and legacy["disposition"] == "expired"
    pdb = drift[("PodDisruptionBudget", "")]  # still missing after the deploy changed it: one episode
    assert pdb["status"] == "missing" and pdb["runs_seen"] == "9" and pdb["disposition"] == "unexplained"
    assert json.loads((out / "pack.json").read_text())["exceptions"]["commit"] == exceptions_commit

    rules = {r["rule_id"]: r for r in rows(out / "ignore-rules.csv")}
    introduced = subprocess.run(["git", "-C", str(archive.repo), "log", "--format=%H", "-G",
                                 "ignoreDifferences", "--", "argocd/demo-app.yaml"], capture_output=True,
                                text=True, check=True).stdout.split()[-1]
    assert rules["app:shop#0"]["introduced_commit"] == introduced
    assert rules["app:shop#0"]["runs"] == "9"
    assert rules["hpa#0"]["note"].startswith("shipped rule pack")
    [coverage] = rows(out / "coverage.csv")
    assert (coverage["app"], coverage["runs"], coverage["checked"]) == ("shop", "9", "9")

    # the signed statement names every other file, with its digest, and a flipped byte fails it
    public = load_public(archive.public)
    assert pack_problems(out, public) == []
    signed = json.loads(base64.b64decode(json.loads((out / "pack.sigstore.json").read_text())
                                         ["dsseEnvelope"]["payload"]))
    files = sorted(p.name for p in out.iterdir() if p.name != "pack.sigstore.json")
    assert sorted(s["name"] for s in signed["subject"]) == files and len(files) == 13
    openssl = ["sh", str(OPENSSL_SCRIPT), str(archive.public), str(out / "pack.sigstore.json"),
               str(out / "drift.csv"), str(out / "summary.html")]  # the pack verifies without driftcheck
    assert subprocess.run(openssl, capture_output=True, text=True).returncode == 0
    data = bytearray((out / "drift.csv").read_bytes())
    data[100] ^= 1
    (out / "drift.csv").write_bytes(bytes(data))
    (out / "extra.txt").write_text("slipped in later")
    assert pack_problems(out, public) == ["extra.txt: not signed", "drift.csv: MODIFIED"]
    assert subprocess.run(openssl, capture_output=True, text=True).returncode != 0

def test_an_edited_and_a_deleted_report_are_named_in_the_pack(archive: evidence_archive.Archive,
                                                              tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    shutil.copytree(archive.reports, reports)
    edited = reports / "demo" / archive.runs[5] / "report.json"
    edited.write_text(re.sub(r'"drifted": [1-9]', '"drifted": 0', edited.read_text(), count=1))
    shutil.rmtree(reports / "demo" / archive.runs[8])
    out = tmp_path / "pack"
    done = planted.run_cli(["evidence", "--archive", str(reports), "--from", "2026-10-01", "--to",
                            "2026-10-10", "--out", str(out), "--key", str(archive.public)], tmp_path / "logs")
    assert done.returncode == 1, done.stderr
    status = {r["run"]: r["status"] for r in rows(out / "runs.csv")}
    assert status.pop(archive.runs[5]) == "modified" and status.pop(archive.runs[8]) == "deleted"
    assert set(status.values()) == {"ok"}
    assert not (out / "pack.sigstore.json").exists() and "NOT signed" in done.stdout
    again = planted.run_cli(["evidence", "--archive", str(reports), "--from", "2026-10-01", "--to",
                             "2026-10-10", "--out", str(out)], tmp_path / "logs")
    assert again.returncode == 2 and "a pack is never written over" in again.stderr
