"""How far back a history goes: ages, dates and moments for --since/--history-since."""

from __future__ import annotations

from datetime import datetime

import pytest

from driftcheck.fetch.moments import parse_since
from driftcheck.model import DriftcheckError

REF = "2026-02-07T16:27:11+09:00"


@pytest.mark.parametrize(("text", "expected"), [
    ("90d", "2025-11-09T16:27:11+09:00"),
    ("2w", "2026-01-24T16:27:11+09:00"),
    ("36h", "2026-02-06T04:27:11+09:00"),
    ("2026-01-20", "2026-01-20T00:00:00+00:00"),  # a bare date means from its start
    ("2026-01-20T16:30:00+09:00", "2026-01-20T16:30:00+09:00"),
])
def test_since_forms(text: str, expected: str) -> None:
    assert parse_since(text, REF) == datetime.fromisoformat(expected)


def test_nonsense_names_the_flag() -> None:
    with pytest.raises(DriftcheckError, match="--since 'yesterday-ish': not a date"):
        parse_since("yesterday-ish", REF, "--since")
