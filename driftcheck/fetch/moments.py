"""Moments a user gives on the command line (--at, --since, --until, --history-since) as aware datetimes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from driftcheck.model import DriftcheckError
from driftcheck.textsafe import shown


def parse_moment(text: str) -> datetime:
    """An aware datetime from ISO-8601 text.

    With an offset it is taken as given; without one it is UTC. A bare date (2026-01-19) means the
    end of that day in UTC (23:59:59), i.e. "what was deployed on 19 January".
    """
    s = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return datetime.combine(date.fromisoformat(s), dtime(23, 59, 59), tzinfo=UTC)
        moment = datetime.fromisoformat(s.replace("z", "Z"))
    except ValueError:
        raise DriftcheckError(f"--at {shown(repr(text))}: not an ISO-8601 date or moment "
                              "(e.g. 2026-01-19 or 2026-01-20T16:30:00+09:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_since(text: str, reference: str | datetime, flag: str = "--history-since") -> datetime:
    """`90d`, `12w`, `36h` before reference (an ISO date-time), or a date/moment; a bare date is its start."""
    ref = datetime.fromisoformat(reference) if isinstance(reference, str) else reference
    match = re.fullmatch(r"\s*(\d+)\s*([hdw])\s*", text)
    if match:
        unit = {"h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        return ref - timedelta(**{unit: int(match.group(1))})
    moment = flag_moment(text, flag)
    if re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", text):
        return moment - timedelta(hours=23, minutes=59, seconds=59)
    return moment


def flag_moment(text: str, flag: str) -> datetime:
    """parse_moment for another flag than --at: its error names that flag and the forms it takes."""
    try:
        return parse_moment(text)
    except DriftcheckError:
        raise DriftcheckError(f"{flag} {text!r}: not a date, a moment or an age "
                              "(e.g. 2026-01-19, 2026-01-20T16:30:00+09:00, 90d)") from None
