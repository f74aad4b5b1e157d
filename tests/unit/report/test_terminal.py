"""The table printed after a run: counts by status per app, the app with the worst news on top."""

from __future__ import annotations

from driftcheck.report.terminal import summary_table


def test_summary_table_counts_per_app_worst_first(report) -> None:
    lines = summary_table(report).splitlines()
    assert lines[0].split() == ["APP", "UNKNOWN", "DRIFTED", "MISSING", "EXTRA", "IN-SYNC", "ERRORS"]
    rows = [line.split() for line in lines[1:]]
    assert [r[0] for r in rows[:3]] == ["payments", "shop", "monitoring"]
    assert rows[0] == ["payments", "1", "1", "0", "1", "0", "1"]
    assert rows[3] == ["TOTAL", "1", "2", "1", "1", "2", "2"]
    assert lines[-1].startswith("skipped app legacy: ")
