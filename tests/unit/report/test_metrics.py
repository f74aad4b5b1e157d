"""Prometheus metrics: the textfile parses and says what the report says; the Pushgateway gets it too."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftcheck.model import DriftcheckError
from driftcheck.report import write_reports


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_file_parses_and_counts_resources_by_app_and_status(report, tmp_path: Path) -> None:
    report.duration_seconds = 12.5
    metrics_file = tmp_path / "textfile" / "driftcheck.prom"
    write_reports(report, tmp_path / "reports", ["json"], metrics_file=metrics_file)
    found = samples(metrics_file.read_text())
    c = ("cluster", "prod-eu-1")
    assert found[("driftcheck_resources", (("app", "payments"), c, ("status", "drifted")))] == 1
    assert found[("driftcheck_resources", (("app", "payments"), c, ("status", "unknown")))] == 1
    assert found[("driftcheck_resources", (("app", "monitoring"), c, ("status", "in-sync")))] == 1
    assert found[("driftcheck_resources", (("app", "monitoring"), c, ("status", "drifted")))] == 0
    assert found[("driftcheck_errors", (c,))] == 2
    assert found[("driftcheck_run_duration_seconds", (c,))] == 12.5
    assert found[("driftcheck_last_success_timestamp_seconds", (c,))] == 1795683600.0  # 2026-11-26T09:00Z
    assert not [p for p in metrics_file.parent.iterdir() if p.name != "driftcheck.prom"]  # no temp left


def test_oldest_drift_age_grows_across_runs(copy_report, tmp_path: Path) -> None:
    first, second = copy_report(), copy_report()
    second.generated_at = "2026-11-28T09:00:00+00:00"
    metrics_file = tmp_path / "driftcheck.prom"
    write_reports(first, tmp_path / "reports", ["json"], metrics_file=metrics_file)
    write_reports(second, tmp_path / "reports", ["json"], metrics_file=metrics_file)
    found = samples(metrics_file.read_text())
    shop = ("driftcheck_oldest_drift_age_seconds", (("app", "shop"), ("cluster", "prod-eu-1")))
    assert found[shop] == 2 * 86400
    assert found[("driftcheck_oldest_drift_age_seconds",
                  (("app", "monitoring"), ("cluster", "prod-eu-1")))] == 0


class Gateway(BaseHTTPRequestHandler):
    """A Pushgateway stand-in on loopback that records what it was sent."""

    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Gateway.received.append((self.command, self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_pushgateway_receives_the_run_grouped_by_cluster(report, tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    Gateway.received = []
    write_reports(report, tmp_path / "reports", ["json"], pushgateway=f"http://127.0.0.1:{server.server_port}")
    thread.join(timeout=30)
    server.server_close()
    [(method, path, body)] = Gateway.received
    assert (method, path) == ("PUT", "/metrics/job/driftcheck/cluster/prod-eu-1")
    assert samples(body.decode())[("driftcheck_errors", (("cluster", "prod-eu-1"),))] == 2


def test_an_unreachable_pushgateway_is_one_error_after_writing_reports(report, tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), Gateway)
    port = server.server_port
    server.server_close()  # nothing listens there now
    with pytest.raises(DriftcheckError, match=r"Connection refused; the reports were written"):
        write_reports(report, tmp_path / "reports", ["json"], pushgateway=f"http://127.0.0.1:{port}")
    assert (tmp_path / "reports" / "prod-eu-1" / "20261126T090000Z" / "report.json").is_file()


def test_an_unwritable_metrics_file_is_one_error_saying_where_reports_are(report, tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("")
    with pytest.raises(DriftcheckError, match=r"not-a-dir: File exists; the reports are in .*/2026"):
        write_reports(report, tmp_path / "reports", ["json"], metrics_file=tmp_path / "not-a-dir" / "x.prom")
