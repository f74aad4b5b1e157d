"""The `--explain KIND/NAME` text: both sides as compared, every difference and every ignored field."""

from __future__ import annotations

import io
import json
from typing import Any

from ruamel.yaml import YAML

from driftcheck.compare.engine import CompareOptions, prepare
from driftcheck.model import FieldDiff, Resource, ResourceResult
from driftcheck.textsafe import for_terminal


def explain(result: ResourceResult, desired: Resource | None, live: Resource | None,
            options: CompareOptions | None = None) -> str:
    """Plain text for a terminal. Secret values are redacted exactly as in the comparison itself; every
    value from Git or the cluster is escaped, so it can neither steer the terminal nor fake a line."""
    options = options or CompareOptions()
    prep = prepare(result.key, desired.body if desired else None, live.body if live else None, options)
    lines = [for_terminal(f"{result.key}  (app {result.app}): {result.status}")]
    if result.reason:
        lines.append(for_terminal(f"  {result.reason}"))
    versions = [f"{v} ({side})" for v, side in ((desired and desired.api_version, "Git"),
                                               (live and live.api_version, "live")) if v]
    if versions:
        lines.append(for_terminal("  apiVersion: " + ", ".join(versions)))
    if result.source and result.source.file:
        lines.append(for_terminal(f"  source: {result.source.file}:{result.source.line}"
                                  + (f" @ {result.source.commit[:12]}" if result.source.commit else "")))
    lines += ["", "--- desired (Git, normalized)"]
    lines.append(_yaml(prep.desired) if desired else "(not in Git)")
    lines += ["--- live (normalized, server fields dropped, secrets redacted)"]
    lines.append(_yaml(prep.live) if live else "(not in the cluster)")
    lines.append(f"--- differences ({len(result.diffs)})")
    lines += [describe(d) for d in result.diffs] or ["(none)"]
    lines.append(f"--- ignored ({len(result.ignored)})")
    lines += [for_terminal(f"{i.path}  ignored by rule {i.rule}") for i in result.ignored] or ["(none)"]
    return "\n".join(lines) + "\n"


def describe(diff: FieldDiff) -> str:
    """`/spec/replicas: 2 → 5  by kubectl (Update, subresource scale) at 2026-11-25T13:04:11Z`."""
    text = f"{diff.path}: {_short(diff.desired)} → {_short(diff.live)}"
    if diff.changed_by:
        cb = diff.changed_by
        how = ", ".join([cb.operation] + ([f"subresource {cb.subresource}"] if cb.subresource else []))
        text += f"  by {cb.manager} ({how})" + (f" at {cb.time}" if cb.time else "")
    if diff.note:
        text += f"  [{diff.note}]"
    return for_terminal(text)


def _short(value: Any) -> str:
    if value is None:
        return "(absent)"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."


def _yaml(body: dict[str, Any]) -> str:
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(body, out)
    # the dumper escapes most controls itself but leaves NEL, U+2028/2029 and bidi overrides raw
    return "\n".join(for_terminal(line) for line in out.getvalue().rstrip("\n").split("\n"))
