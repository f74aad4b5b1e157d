"""A manifest with an integer no Kubernetes decoder reads (thousands of digits) is an error naming the file
and line, and every other file and app of the run is still checked.

Python refuses to convert integers of more than 4300 digits from text, and before this a `.json`
manifest holding one ended `check` with "internal error: ValueError: Exceeds the limit". Kubernetes'
own decoding reads numbers as int64, falls back to float64 and fails past its range, so an integer
beyond float64 is refused here too, in YAML and JSON alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from driftcheck.render.yaml import load_manifests
from testing import planted

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

HUGE = "9" * 5000
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: demo}\ndata: {k: v}\n"


@pytest.mark.parametrize("number", [HUGE, "-" + HUGE, "0x" + "f" * 300, "1" + "0" * 309])
def test_a_yaml_integer_beyond_float64_is_an_error_at_its_line_and_the_next_document_still_loads(
        number: str) -> None:
    two = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: two\nspec:\n  n: {number}\n"
    data = f"{CM % 'one'}---\n{two}---\n{CM % 'three'}".encode()
    manifests, errors = load_manifests(data, "cms.yaml")
    assert [b["metadata"]["name"] for b, _ in manifests] == ["one", "three"]
    assert [(e.file, e.line) for e in errors] == [("cms.yaml", 11)]
    assert "out of range" in errors[0].message


def test_integers_kubernetes_reads_still_load_as_numbers() -> None:
    manifests, errors = load_manifests(b"a: 9223372036854775807\nb: 18446744073709551616\nc: '" +
                                       HUGE.encode() + b"'\n", "ok.yaml")
    assert errors == []
    assert manifests[0][0] == {"a": 2**63 - 1, "b": 2**64, "c": HUGE}
    docs, errors = load_manifests(b'{"a": 12345678901234567890, "b": "' + HUGE.encode() + b'"}', "ok.json")
    assert (docs, errors) == ([({"a": 12345678901234567890, "b": HUGE}, 1)], [])


def test_a_json_integer_of_5000_digits_is_an_error_at_its_line() -> None:
    data = ('{"apiVersion": "v1", "kind": "ConfigMap",\n "metadata": {"name": "big"},\n'
            f' "data": {{"n": {HUGE}}}}}').encode()
    assert load_manifests(data, "cm.json")[1][0].line == 3


def test_check_reports_the_huge_json_integer_and_still_compares_the_other_files(
        git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    big = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},\n "data": {"n": ' \
        + HUGE + "}}"
    git_repo.commit({"app/big.json": big, "app/cm.yaml": CM % "cm"}, "manifests")
    live = tmp_path / "live.yaml"
    live.write_text(CM % "cm")
    out = tmp_path / "out"
    proc = planted.run_cli(["check", "--repo", str(git_repo.path), "--path", "app", "-n", "demo",
                            "--live-snapshot", str(live), "--out", str(out), "--format", "json"],
                           tmp_path / "logs")
    assert proc.returncode == 2, proc.stderr
    assert "internal error" not in proc.stderr
    report = json.loads(next(out.rglob("report.json")).read_text())
    assert [(e["file"], e["line"]) for e in report["errors"]] == [("app/big.json", 2)]
    assert [(r["name"], r["status"]) for r in report["resources"]] == [("cm", "in-sync")]
