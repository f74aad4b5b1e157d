"""How report values read to a person: times, ages, YAML snippets and status wording.

Shared by the HTML, Markdown and index renderers so every format says the same thing the same way.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

from ruamel.yaml import YAML

STATUS_WORDS = {"in-sync": "in sync", "drifted": "drifted", "missing": "missing", "extra": "extra",
                "unknown": "unknown", "error": "error", "skipped": "skipped"}
SUMMARY_KEYS = {"errors": "error", "unknown": "unknown", "drifted": "drifted", "missing": "missing",
                "extra": "extra", "in_sync": "in-sync"}


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(text: str | None, seconds: bool = False) -> str:
    """An ISO-8601 time as `2026-11-20 08:14 UTC`; text that is not a time is shown as it is."""
    moment = parse_time(text)
    if moment is None:
        return str(text or "")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def day(text: str | None) -> str:
    moment = parse_time(text)
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else str(text or "")


def days_between(start: str | None, end: str | None) -> int | None:
    a, b = parse_time(start), parse_time(end)
    return max(0, (b - a).days) if a and b else None


AGE_WORDS = {"drifted": "drifting since", "missing": "missing since", "extra": "extra since"}


def drift_age(first_seen: str | None, now: str, status: str = "drifted") -> str:
    """`drifting since 2026-11-20 (6 days)` (or missing/extra since …), or `new in this run`."""
    if not first_seen:
        return ""
    if first_seen == now:
        return "new in this run"
    n = days_between(first_seen, now)
    span = "less than a day" if n == 0 else f"{n} day{'s' if n != 1 else ''}"
    return f"{AGE_WORDS.get(status, 'since')} {day(first_seen)} ({span})"


def live_commit_text(live_commit: dict[str, Any] | None) -> str:
    """`live matches Git as of ab12cd3 (2026-11-18), 3 commits behind`."""
    if not live_commit or not live_commit.get("commit"):
        return ""
    text = f"live matches Git as of {short(live_commit['commit'])}"
    if live_commit.get("date"):
        text += f" ({day(live_commit['date'])})"
    behind = live_commit.get("behind")
    if isinstance(behind, int):
        text += f", {behind} commit{'s' if behind != 1 else ''} behind"
    return text


def short(sha: str | None) -> str:
    return str(sha or "")[:7]


def yaml_text(value: Any) -> str:
    """A value as YAML a reader recognises from their manifests; None (absent) is the empty string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(value, out)
    return out.getvalue().rstrip("\n")


def pointer_parts(path: str) -> list[str]:
    """RFC 6901 pointer -> its unescaped segments, for display as `spec › template › …`."""
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]] if path else []


def source_line(source: dict[str, Any]) -> str:
    """One entry of an app's `sources` in words: what was asked and what it resolved to."""
    got = source["resolved"] or "not fetched"
    if source["type"] == "git":
        where = f"{source['repository']} " if source["repository"] else "this repository "
        path = f"{source['path'] or '.'} "
        return f"{where}{path}at {source['requested']} → {short(got) if source['resolved'] else got}"
    return f"chart {source['path']} {source['requested']} from {source['repository']} → {got}"


def notable_sources(app: dict[str, Any]) -> bool:
    """Whether an app's sources say more than 'this repository at the run's commit' (worth a line)."""
    return bool(app.get("resolved") or app.get("hooks")
                or any(s["type"] != "git" or s["repository"] for s in app.get("sources") or []))
