"""Signed report archives for the evidence tests: a key pair, and nightly runs written by the real
write_reports with a small report, so the chain, the bundles and the files are exactly what check writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from driftcheck.evidence import keys
from driftcheck.model import AuditReport
from driftcheck.report import write_reports
from driftcheck.report.write import WrittenReports


def key_pair(directory: Path, passphrase: bytes | None = None) -> tuple[keys.Signer, Path]:
    """A fresh P-256 pair in directory; -> (the loaded signer, the public key's path)."""
    private, public, _ = keys.generate(directory, passphrase)
    return keys.load_signer(private, passphrase), public


def small_report(generated_at: str, commit: str = "c" * 40, cluster: str = "prod") -> AuditReport:
    return AuditReport(generated_at=generated_at, tool_version="0.1.0",
                       source={"repo": "https://git.example/gitops.git", "revision": "main",
                               "commit": commit},
                       cluster={"context": cluster}, rules={}, apps=[], resources=[])


def nightly(n: int, start: str = "2026-10-01T02:00:07+00:00") -> list[str]:
    first = datetime.fromisoformat(start)
    return [(first + timedelta(days=i)).astimezone(UTC).isoformat() for i in range(n)]


def write_runs(out: Path, signer: keys.Signer, times: list[str], commits: list[str] | None = None,
               keep: int | None = None) -> list[WrittenReports]:
    return [write_reports(small_report(at, (commits or [])[i] if commits else "c" * 40), out,
                          ["html", "json"], keep=keep, on_wait=lambda _m: None, signer=signer)
            for i, at in enumerate(times)]
