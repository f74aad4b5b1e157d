"""`driftcheck verify`: an untouched report passes; a one-character edit is caught and located."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftcheck.model import DriftcheckError
from driftcheck.report import write_reports
from driftcheck.report.verify import verify


@pytest.fixture
def written(report, tmp_path: Path) -> Path:
    return write_reports(report, tmp_path / "reports", ["json"]).paths[0]


def test_an_untouched_report_verifies(written: Path) -> None:
    result = verify(written)
    assert result.ok, result.message()
    assert result.message().startswith("OK:")


@pytest.mark.parametrize(("old", "new", "part"), [
    ('"drifted": 2', '"drifted": 0', "summary"),
    ("ghcr.io/acme/frontend:1.4.1", "ghcr.io/acme/frontend:1.4.2", "resources"),
    ('"context": "prod-eu-1"', '"context": "prod-eu-2"', "cluster"),
    ("2026-11-26T09:00:00+00:00", "2026-11-26T08:00:00+00:00", "generated_at"),
    ("Carol <c@acme.io>", "Carol <x@acme.io>", "history"),
])
def test_a_one_character_edit_is_detected_and_located(written: Path, old: str, new: str, part: str) -> None:
    text = written.read_text()
    assert sum(a != b for a, b in zip(old, new, strict=True)) == 1
    written.write_text(text.replace(old, new, 1))
    result = verify(written)
    assert not result.ok
    assert result.changed == [part]
    assert f"{part} changed" in result.message()


def test_an_edit_of_the_digest_table_alone_is_detected(written: Path) -> None:
    doc = json.loads(written.read_text())
    doc["digests"]["summary"] = "sha256:" + "0" * 64
    written.write_text(json.dumps(doc, indent=2))
    result = verify(written)
    assert not result.ok and result.changed == ["digests"]


def test_an_added_top_level_key_is_named(written: Path) -> None:
    doc = json.loads(written.read_text())
    doc["approved_by"] = "nobody"
    written.write_text(json.dumps(doc))
    assert verify(written).changed == ["approved_by (added)"]


def test_reformatting_the_json_keeps_it_valid(written: Path) -> None:
    written.write_text(json.dumps(json.loads(written.read_text()), sort_keys=True))
    assert verify(written).ok


@pytest.mark.parametrize(("content", "says"), [
    ("{", "not a valid report: Expecting"),
    ('{"schema": "other/v9"}', "not a valid report: schema 'other/v9'"),
    ("[1]", "not a valid report: a JSON list"),
])
def test_a_file_that_is_not_a_report_is_one_clear_error(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(DriftcheckError, match=says):
        verify(path)


def test_verify_command_exits_0_when_intact_and_1_when_edited(written: Path) -> None:
    from click.testing import CliRunner

    from driftcheck.cli import main

    intact = CliRunner().invoke(main, ["verify", str(written)])
    assert (intact.exit_code, intact.output.split(":")[0]) == (0, "OK")
    written.write_text(written.read_text().replace('"missing": 1', '"missing": 0', 1))
    edited = CliRunner().invoke(main, ["verify", str(written)])
    assert edited.exit_code == 1
    assert "summary changed after the report was written" in edited.output
    missing = CliRunner().invoke(main, ["verify", str(written) + ".gone"])
    assert missing.exit_code == 2 and "cannot read" in missing.output
