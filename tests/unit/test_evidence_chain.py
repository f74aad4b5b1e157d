"""The chain and verify --archive: 30 nightly runs with one edited, one deleted and one inserted run are
named exactly, and nothing else; each other finding on its own; --keep keeps every statement."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from driftcheck.evidence import bundle, chain
from driftcheck.evidence.archive_check import Finding, verify_archive
from driftcheck.evidence.keys import Signer
from driftcheck.report import write
from testing.signed_archive import key_pair, nightly, small_report, write_runs

NIGHTLY = "0 2 * * *"
Signed = tuple[Path, Signer, Path]


@pytest.fixture
def signed(tmp_path: Path) -> Signed:
    signer, public = key_pair(tmp_path / "keys")
    return tmp_path / "reports", signer, public


def findings(out: Path, public: Path | None, cron: str | None = NIGHTLY) -> list[Finding]:
    from driftcheck.evidence.keys import load_public

    [verdict] = verify_archive(out, load_public(public) if public else None, cron)
    return verdict.findings


def test_each_run_is_chained_to_the_one_before(signed: Signed) -> None:
    out, signer, public = signed
    first, second = write_runs(out, signer, nightly(2))
    one = bundle.parse(_link(first).read_bytes())
    two = bundle.parse((second.run_dir / "report.sigstore.json").read_bytes())
    assert chain.link_of(one)["seq"] == 1 and chain.link_of(one)["previous"] is None
    link = chain.link_of(two)
    assert link["seq"] == 2 and link["id"] == chain.link_of(one)["id"]
    assert link["previous"]["statementSha256"] == one.body_sha256
    assert link["previous"]["reportSha256"] == one.statement.subjects["report.json"]
    assert set(two.statement.subjects) == {"report.json", "report.html"}
    assert two.statement.predicate["period"] == {"start": first_time(one), "end": second_time(two)}
    assert findings(out, public) == []


def _link(written: write.WrittenReports) -> Path:
    assert written.chain_link is not None
    return written.chain_link


def first_time(read: bundle.Bundle) -> str:
    return str(read.statement.predicate["report"]["generatedAt"])


second_time = first_time


def test_thirty_nights_one_edited_one_deleted_one_inserted(signed: Signed) -> None:
    out, signer, public = signed
    written = write_runs(out, signer, nightly(30))
    runs = [w.run_dir for w in written]
    cluster = runs[0].parent
    # edited: one byte of run 7's report.json
    edited = runs[6] / "report.json"
    data = bytearray(edited.read_bytes())
    data[data.index(b'"prod"') + 1] ^= 0x20
    edited.write_bytes(bytes(data))
    # deleted: run 12, its directory and its chain link
    shutil.rmtree(runs[11])
    (cluster / "chain" / chain.link_name(12)).unlink()
    # inserted: a run signed with the real key, claiming seq 16 after seq 15 (a key holder's forgery)
    forged = cluster / "20261015T140000Z"
    forged.mkdir()
    doc = json.loads((runs[14] / "report.json").read_text())
    for fmt in ("json", "html"):
        (forged / write.FILE_NAMES[fmt]).write_text("".join(write.render(fmt, doc)))
    head = chain.head_of(bundle.parse((runs[14] / "report.sigstore.json").read_bytes()))
    chain.sign_run(forged, doc, signer, "prod", forged.name, head)

    found = findings(out, public)
    assert [(f.kind, f.seq, f.run) for f in found] == [
        ("modified", 7, runs[6].name), ("gap", 12, runs[12].name), ("fork", 16, forged.name)]
    assert "report.json" in found[0].message and "report.html" not in found[0].message


def test_a_missed_night_without_a_gap_is_a_missed_slot(signed: Signed) -> None:
    out, signer, public = signed
    times = nightly(6)
    write_runs(out, signer, times[:3] + times[4:])
    found = findings(out, public)
    assert [(f.kind, f.run) for f in found] == [("missed", "20261004T020000Z")]
    assert findings(out, public, cron=None) == []


def test_broken_link_bad_signature_and_unsigned_run(signed: Signed, tmp_path: Path) -> None:
    out, signer, public = signed
    written = write_runs(out, signer, nightly(4))
    cluster = written[0].run_dir.parent
    other, _ = key_pair(tmp_path / "other")
    # seq 3 re-signed with another key: the signature check refuses it (and nothing else is said of it)
    doc = json.loads((written[2].run_dir / "report.json").read_text())
    for path in (written[2].run_dir / "report.sigstore.json", cluster / "chain" / chain.link_name(3)):
        path.unlink()
    head = chain.head_of(bundle.parse(_link(written[1]).read_bytes()))
    chain.sign_run(written[2].run_dir, doc, other, "prod", written[2].run_dir.name, head)
    kinds = [(f.kind, f.seq) for f in findings(out, public)]
    assert ("invalid", 3) in kinds and ("gap", 3) in kinds
    # an unsigned run directory among signed ones
    extra = cluster / "20261010T020000Z"
    extra.mkdir()
    (extra / "report.json").write_text("{}")
    assert ("unsigned", None) in [(f.kind, f.seq) for f in findings(out, public, cron=None)]


def test_a_link_that_names_the_wrong_previous_is_broken(signed: Signed) -> None:
    out, signer, public = signed
    written = write_runs(out, signer, nightly(3))
    cluster = written[0].run_dir.parent
    doc = json.loads((written[2].run_dir / "report.json").read_text())
    for path in (written[2].run_dir / "report.sigstore.json", cluster / "chain" / chain.link_name(3)):
        path.unlink()
    head = chain.head_of(bundle.parse(_link(written[0]).read_bytes()))
    assert head is not None
    wrong = chain.Head(head.chain_id, 2, head.run, head.statement_sha256, head.report_sha256,
                       head.generated_at)
    (written[2].run_dir / "report.sigstore.json").unlink(missing_ok=True)
    chain.sign_run(written[2].run_dir, doc, signer, "prod", written[2].run_dir.name, wrong)
    assert [(f.kind, f.seq) for f in findings(out, public)] == [("broken-link", 3)]


def test_keep_prunes_reports_but_never_statements(signed: Signed) -> None:
    out, signer, _ = signed
    write_runs(out, signer, nightly(5), keep=2)
    [verdict] = verify_archive(out, None, NIGHTLY)
    cluster = out / "prod"
    assert len(list((cluster / "chain").iterdir())) == 5
    assert len([p for p in cluster.iterdir() if p.name != "chain"]) == 2
    assert verdict.findings == [] and verdict.pruned == 3 and (verdict.first_seq, verdict.last_seq) == (1, 5)
    assert any("signatures not checked" in note for note in verdict.notes)


def test_an_unreadable_chain_head_is_passed_over_with_a_warning(signed: Signed) -> None:
    out, signer, _ = signed
    write_runs(out, signer, nightly(1))
    (out / "prod" / "chain" / chain.link_name(9)).write_text("not json")
    told: list[str] = []
    written = write.write_reports(small_report(nightly(2)[1]), out, ["json"], on_wait=told.append,
                                  signer=signer)
    assert written.chain_link is not None and written.chain_link.name == chain.link_name(2)
    assert any("00000009.sigstore.json" in line for line in told)
