"""The v1 JSON contract: schema-valid, sorted, deterministic, sealed by digests."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from driftcheck.report import json_report, write_reports
from driftcheck.report.archive import read_document


def test_report_is_valid_against_the_shipped_schema(report) -> None:
    doc = json_report.to_document(report)
    assert json_report.schema_problems(doc) == []
    assert doc["schema"] == "driftcheck.report/v1"
    assert doc["summary"] == {"total": 7, "in_sync": 2, "drifted": 2, "missing": 1, "extra": 1, "unknown": 1,
                              "errors": 2}


def test_schema_rejects_a_report_with_an_invented_status(report) -> None:
    doc = json_report.to_document(report)
    doc["resources"][0]["status"] = "fine"
    assert any("/resources/0/status" in p for p in json_report.schema_problems(doc))


def test_resources_are_sorted_by_app_group_kind_namespace_name(report) -> None:
    entries = json_report.to_document(report)["resources"]
    order = [(e["app"], e["group"], e["kind"], e["namespace"], e["name"]) for e in entries]
    assert order == sorted(order)
    assert [e["app"] for e in entries][:1] == ["monitoring"]


def test_top_level_keys_follow_the_contract_order(report) -> None:
    assert list(json_report.to_document(report)) == [
        "schema", "generated_at", "tool", "source", "cluster", "rules", "summary", "apps", "resources",
        "coverage", "unmanaged", "history", "errors", "digests", "digest"]


def test_two_writes_of_the_same_report_are_byte_identical(copy_report, tmp_path) -> None:
    first, second = copy_report(), copy_report()
    second.resources.reverse()  # the order stages hand results over must not matter
    second.history.reverse()
    second.errors.reverse()
    a = write_reports(first, tmp_path / "a", ["json"]).paths[0].read_bytes()
    b = write_reports(second, tmp_path / "b", ["json"]).paths[0].read_bytes()
    assert a == b


def test_a_later_run_differs_only_where_the_time_of_the_run_shows(copy_report, tmp_path) -> None:
    first, second = copy_report(), copy_report()
    second.generated_at = "2026-11-26T09:05:00+00:00"
    a = json.loads(write_reports(first, tmp_path / "a", ["json"]).paths[0].read_text())
    b = json.loads(write_reports(second, tmp_path / "b", ["json"]).paths[0].read_text())
    changed = {k for k in a if a[k] != b[k]}
    # first_seen of a drift seen for the first time is the run's own time
    assert changed == {"generated_at", "resources", "digests", "digest"}
    assert {k for k in a["digests"] if a["digests"][k] != b["digests"][k]} == {"generated_at", "resources"}
    unstamp = json.dumps(a["resources"]).replace(first.generated_at, "T")
    assert unstamp == json.dumps(b["resources"]).replace(second.generated_at, "T")


def test_digest_is_the_sha256_of_the_canonical_report_without_the_digest(report) -> None:
    doc = json_report.to_document(report)
    body = {k: v for k, v in doc.items() if k != "digest"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert doc["digest"] == "sha256:" + hashlib.sha256(canonical).hexdigest()


def test_differences_carry_attribution_and_ignored_fields_their_rule(report, tmp_path: Path) -> None:
    doc, problem = read_document(write_reports(report, tmp_path, ["json"]).paths[0])
    assert doc is not None, problem
    frontend = next(e for e in doc["resources"] if e["kind"] == "Deployment" and e["name"] == "frontend")
    image = next(d for d in frontend["differences"] if d["path"].endswith("/image"))
    assert image["changed_by"] == {"manager": "kubectl-edit", "operation": "Update",
                                   "time": "2026-11-20T08:14:00Z", "subresource": ""}
    assert frontend["ignored"] == [{"path": "/spec/replicas", "rule": "hpa#0"}]
    assert frontend["source"] == {"file": "apps/shop/frontend.yaml", "line": 12}
    assert frontend["version"] == "v1" and frontend["group"] == "apps"


WRITER = """
import pickle, sys
from pathlib import Path
from driftcheck.report import write_reports
report = pickle.loads(Path(sys.argv[1]).read_bytes())
print(write_reports(report, Path(sys.argv[2]), ["json", "html", "md", "junit"]).run_dir)
"""


def test_output_does_not_depend_on_the_process_hash_seed(report, tmp_path: Path) -> None:
    """Sets and dicts handed over by stages must not leak their iteration order into any format."""
    report.unmanaged.append({"kind": "ConfigMap", "name": "x", "labels": {"b", "a", "c", "d"}})
    pickled = tmp_path / "report.pickle"
    pickled.write_bytes(pickle.dumps(report))
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", WRITER, str(pickled), str(tmp_path / seed)], env=env,
                              capture_output=True, text=True, check=True)
        runs.append(Path(done.stdout.strip()))
    for name in ("report.json", "report.html", "report.md", "report.xml"):
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
