"""What an evidence pack is made of, shared by its builder and its writers: the options it was asked
with, everything it found, and the parameters (how it was made, what it counts) it states and signs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftcheck import __version__
from driftcheck.evidence import keys, pack_changes, pack_exceptions, pack_rules
from driftcheck.evidence.pack_runs import PackRun, Period, Slot


@dataclass(frozen=True)
class PackOptions:
    archive: Path
    start: str  # --from, a date
    end: str  # --to, a date (inclusive)
    out: Path
    clusters: list[str] = field(default_factory=list)  # expected clusters (default: the archive's)
    schedule: str | None = None
    public_key: Path | None = None
    repo: Path | None = None
    exceptions: str | None = None
    exceptions_repo: str | None = None
    exceptions_ref: str | None = None


@dataclass
class Pack:
    options: PackOptions
    period: Period
    generated_at: str
    runs: list[PackRun]
    slots: list[Slot]
    verdicts: list[dict[str, Any]]
    deploys: list[dict[str, Any]]
    episodes: list[pack_changes.Episode]
    exceptions: pack_exceptions.ExceptionsFile | None
    rules: list[pack_rules.RuleInForce]
    unlisted_rules: list[str]
    coverage: list[dict[str, Any]]
    completeness: list[dict[str, Any]]
    warnings: list[str]


def parameters(pack: Pack, signer: keys.Signer | None) -> dict[str, Any]:
    """How the pack was made and what it counts (the IPE parameters an auditor re-runs it with)."""
    o = pack.options
    return {
        "tool": {"name": "driftcheck", "version": __version__},
        "generatedAt": pack.generated_at,
        "period": {"from": o.start, "to": o.end, "start": pack.period.start.isoformat(),
                   "end": pack.period.end.isoformat()},
        "archive": str(o.archive), "clusters": sorted({c["cluster"] for c in pack.completeness}),
        "schedule": o.schedule, "repo": str(o.repo) if o.repo else None,
        "verifiedWithKey": keys.key_id(keys.load_public(o.public_key)) if o.public_key else None,
        "signer": {"keyId": signer.key_id} if signer else None,
        "exceptions": None if pack.exceptions is None else {
            "source": pack.exceptions.shown, "commit": pack.exceptions.commit, "dirty": pack.exceptions.dirty,
            "entries": len(pack.exceptions.entries), "errors": pack.exceptions.errors},
        "counts": {"runs": len(pack.runs), "slots": len(pack.slots), "deploys": len(pack.deploys),
                   "driftEpisodes": len(pack.episodes),
                   "driftFields": sum(len(e.differences) or 1 for e in pack.episodes),
                   "rules": len(pack.rules)},
        "complete": all(c["complete"] for c in pack.completeness),
    }
