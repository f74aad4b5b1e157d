"""`driftcheck verify REPORT.json`: does a report still say what driftcheck wrote, and if not, where not?

The digest is an unkeyed sha256, so it detects accidental change (a truncated copy, a bad disk, an edit
that forgot the digest), not a deliberate edit: whoever can edit the file can recompute it. Every verdict
says so; signed reports come with the evidence work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftcheck.model import DriftcheckError
from driftcheck.report import json_report

SEALS = ("digests", "digest")
LIMIT = ("detects accidental change only: anyone who can edit the file can recompute an unsigned digest")


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
            return f"OK: {self.path}: digest {self.stored} matches ({LIMIT})"
        parts = ", ".join(self.changed) or "the digest field"
        return (f"MODIFIED: {self.path}: {parts} changed after the report was written "
                f"(stored digest {self.stored or 'missing'}, content hashes to {self.computed})")


def verify(path: Path) -> Verification:
    """Recompute the digests of a v1 report; unreadable or foreign files end with a DriftcheckError."""
    doc = _load(path)
    digests = doc.get("digests")
    stored_sections: dict[str, Any] = digests if isinstance(digests, dict) else {}
    recomputed = json_report.section_digests(doc)
    changed = [name for name in json_report.SECTIONS if stored_sections.get(name) != recomputed.get(name)]
    changed += [f"{key} (added)" for key in doc if key not in (*json_report.SECTIONS, *SEALS)]
    computed = json_report.content_digest(doc)
    digest = doc.get("digest")
    stored = digest if isinstance(digest, str) else ""
    if stored != computed and json_report.content_digest({**doc, "digests": recomputed}) == stored:
        changed = ["digests"]  # the content is as sealed; only the table of section digests was edited
    return Verification(path, stored, computed, changed)


def _load(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise DriftcheckError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise DriftcheckError(f"{path}: not a valid report: not UTF-8 text (byte {exc.start})") from exc
    try:
        doc = json_report.parse(text)
    except ValueError as exc:
        raise DriftcheckError(f"{path}: not a valid report: {exc}; was it truncated or edited?") from exc
    if not isinstance(doc, dict):
        raise DriftcheckError(f"{path}: not a valid report: a JSON {type(doc).__name__}, not an object")
    if doc.get("schema") != json_report.SCHEMA_ID:
        found = repr(doc.get("schema"))[:80]
        raise DriftcheckError(f"{path}: not a valid report: schema {found}, not {json_report.SCHEMA_ID}")
    return doc
