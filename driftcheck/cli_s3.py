"""The S3 flags of `check` and `verify`: `--out`/`--archive` may be `s3://bucket/prefix`, with the
retention and endpoint flags; handed on as `out: Path` plus `s3: S3Options | None`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from driftcheck.commands.options import S3Options

Command = TypeVar("Command", bound=Callable[..., Any])

S3_ENDPOINT = click.option(
    "--s3-endpoint", default=None, metavar="URL",
    help="S3-compatible endpoint for s3:// archives (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS).")


def s3_output_flags(func: Command) -> Command:
    """--retain-days, --retain-mode, --s3-endpoint; `out` (a str, so s3:// keeps its slashes) -> Path + s3."""
    @functools.wraps(func)
    def with_s3(**kwargs: Any) -> Any:
        out, days, mode, endpoint = (kwargs.pop(k) for k in ("out", "retain_days", "retain_mode",
                                                              "s3_endpoint"))
        s3 = S3Options(out, days, mode, endpoint) if str(out).startswith("s3://") else None
        return func(out=Path("reports") if s3 else Path(out), s3=s3, **kwargs)
    wrapped: Command = with_s3  # type: ignore[assignment]
    for option in (click.option("--retain-days", type=click.IntRange(min=1), default=400, show_default=True,
                                help="With --out s3://: Object Lock retention of every object, in days."),
                   click.option("--retain-mode", type=click.Choice(["COMPLIANCE", "GOVERNANCE"]),
                                default="COMPLIANCE", show_default=True,
                                help="With --out s3://: COMPLIANCE (no one can delete) or GOVERNANCE."),
                   S3_ENDPOINT):
        wrapped = option(wrapped)
    return wrapped
