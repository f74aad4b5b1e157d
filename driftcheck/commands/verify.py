"""`driftcheck verify`: check a JSON report's digest and say which part changed if it does not match."""

from __future__ import annotations

from pathlib import Path

import click


def run(report_file: Path) -> int:
    """Exit 0 when the report is intact, 1 when it is not."""
    from driftcheck.report.verify import verify

    result = verify(report_file)
    click.echo(result.message())
    return 0 if result.ok else 1
