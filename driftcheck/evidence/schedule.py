"""The CronJob schedule as slots in time: which intervals between two slots hold no run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadCronError, croniter

from driftcheck.model import DriftcheckError

MAX_SLOTS = 100_000  # a minute schedule over two months; more is a schedule typo, not an archive


def empty_slots(cron: str, runs: list[datetime]) -> Iterator[tuple[datetime, datetime]]:
    """[slot, next slot) intervals, from the slot of the first run to the slot of the last, with no run
    (times in UTC, as the CronJob's timeZone Etc/UTC)."""
    if not runs:
        return
    times = sorted(moment.astimezone(UTC) for moment in runs)
    try:
        slots = croniter(cron, times[0] + timedelta(seconds=1))
    except (CroniterBadCronError, ValueError) as exc:
        raise DriftcheckError(f"--schedule {cron!r}: not a cron schedule ({exc})") from exc
    start = slots.get_prev(datetime)
    index = 0
    for _ in range(MAX_SLOTS):
        if start > times[-1]:
            return
        end = croniter(cron, start).get_next(datetime)
        while index < len(times) and times[index] < start:
            index += 1
        if not (index < len(times) and times[index] < end):
            yield start, end
        start = end
    raise DriftcheckError(f"--schedule {cron!r}: more than {MAX_SLOTS} slots between the first and last run")
