"""`driftcheck verify REPORT.json`: does a report still say what driftcheck wrote, and if not, where not?"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftcheck.model import DriftcheckError
from driftcheck.report import json_report

SEALS = ("digests", "digest")


@dataclass
class Verification:
    path: Path
    stored: str
    computed: str
    changed: list[str] = field(default_factory=list)  # top-level parts that differ from what was sealed

    @property
    def ok(self) -> bool:
        return self.stored == self.computed and not self.changed

    def message(self) -> str:
        if self.ok:
            return f"OK: {self.path}: digest {self.stored} matches"
        parts = ", ".join(self.changed) or "the digest field"
        return (f"MODIFIED: {self.path}: {parts} changed after the report was written "
                f"(stored digest {self.stored or 'missing'}, content hashes to {self.computed})")


def verify(path: Path) -> Verification:
    """Recompute the digests of a v1 report; unreadable or foreign files end with a DriftcheckError."""
    doc = _load(path)
    stored_sections = doc.get("digests") if isinstance(doc.get("digests"), dict) else {}
    recomputed = json_report.section_digests(doc)
    changed = [name for name in json_report.SECTIONS if stored_sections.get(name) != recomputed[name]]
    changed += [f"{key} (added)" for key in doc if key not in (*json_report.SECTIONS, *SEALS)]
    computed = json_report.content_digest(doc)
    stored = doc.get("digest") if isinstance(doc.get("digest"), str) else ""
    if stored != computed and json_report.content_digest({**doc, "digests": recomputed}) == stored:
        changed = ["digests"]  # the content is as sealed; only the table of section digests was edited
    return Verification(path, stored, computed, changed)


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise DriftcheckError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise DriftcheckError(f"{path} is not JSON ({exc}); was it truncated or edited?") from exc
    if not isinstance(doc, dict) or doc.get("schema") != json_report.SCHEMA_ID:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise DriftcheckError(f"{path} is not a {json_report.SCHEMA_ID} report (schema: {found!r})")
    return doc
