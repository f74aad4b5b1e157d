"""`driftcheck demo`: the main job on the bundled example, with where to look at its inputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click


def run(out: Path, progress: Callable[[str], None]) -> int:
    """Exit 1: the example has drift, on purpose."""
    from driftcheck.commands.check import exit_code
    from driftcheck.demo.run import run_demo
    from driftcheck.report.terminal import summary_table

    result = run_demo(out, progress=progress)
    click.echo(summary_table(result.report))
    for path in result.written.paths:
        click.echo(f"report: {path}")
    click.echo(f"demo repository and snapshot: {result.workdir}")
    return exit_code(result.report)
