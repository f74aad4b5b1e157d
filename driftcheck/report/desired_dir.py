"""The `render` output directory: the desired state of a commit written as files plus a MANIFEST.json.

Layout: `<namespace or _cluster>/<Kind>.<name>.yaml`, one object per file (a name over NAME_BYTES is
cut and ends in a hash of the whole, so a valid 253-character name still fits a file system), and
`MANIFEST.json` naming the repository, the commit and its date, the resolved `--at`, the apps, and every
object with its real name and the sha256 of its canonical JSON form, so an auditor can verify the files
later. The output is deterministic: the same commit gives byte-identical files. MANIFEST.json is also a
valid, empty `v1 List`, so `kubectl apply --dry-run=client -R -f DIR` accepts the directory as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftcheck import __version__
from driftcheck.compare.secrets import redact_secret_values
from driftcheck.model import AppResolution, DriftcheckError, Resource, RunError, split_api_version, utf8_text
from driftcheck.render import Rendered
from driftcheck.render.yaml import dump_yaml
from driftcheck.report.json_report import resolution_entry

SCHEMA = "driftcheck.render/v1"
MANIFEST = "MANIFEST.json"
CLUSTER_DIR = "_cluster"
NAME_BYTES = 200  # longest file or folder name written; most file systems allow 255
# Redacted Secrets stay valid for `kubectl apply`: data holds base64 (of REDACTED), stringData plain text.
DATA_MARKER, STRING_MARKER = "UkVEQUNURUQ=", "REDACTED"


@dataclass
class Written:
    """What write_desired put in the directory, and the errors it carries in MANIFEST.json."""

    out: Path
    objects: int = 0
    errors: list[RunError] = field(default_factory=list)


def canonical_digest(body: dict[str, Any]) -> str:
    """sha256 of the canonical JSON form: sorted keys, no insignificant whitespace, UTF-8."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_desired(out: Path, rendered: list[Rendered], source: dict[str, Any],
                  include_secret_values: bool = False, errors: list[RunError] | None = None,
                  resolutions: Mapping[str, AppResolution] | None = None) -> Written:
    """Write every app's objects and MANIFEST.json into out (replacing an earlier render there).

    out must be empty, absent, or an earlier render (it holds a MANIFEST.json); anything else is a
    DriftcheckError, so a mistyped --out never wipes unrelated files. The directory is swapped in
    whole, so a reader never sees half a render.
    """
    _check_target(out)
    result = Written(out, errors=list(errors or []))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        objects, apps = _write_objects(staging, rendered, include_secret_values, result.errors)
        for app in apps:  # what each app's sources resolved to, and its hooks, as the JSON report has them
            if app["name"] in (resolutions or {}):
                app.update(resolution_entry((resolutions or {})[app["name"]]))
        result.objects = len(objects)
        manifest = {
            # `kubectl apply -R -f DIR` reads every .json file: to kubectl this one is an empty List.
            "apiVersion": "v1", "kind": "List", "items": [],
            "schema": SCHEMA,
            "tool": {"name": "driftcheck", "version": __version__},
            "source": source,
            "digest": "sha256 of each object's canonical JSON (sorted keys, no whitespace, UTF-8)",
            "secret_values": "included" if include_secret_values else "redacted",
            "apps": apps,
            "objects": objects,
            "errors": [_error_dict(e) for e in result.errors],
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
        os.chmod(staging, 0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise DriftcheckError(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise DriftcheckError(f"--out {out}: not empty and not an earlier render (no {MANIFEST}); "
                              "choose another directory")


def _write_objects(root: Path, rendered: list[Rendered], include_secret_values: bool,
                   errors: list[RunError]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    objects: list[dict[str, Any]] = []
    apps: list[dict[str, Any]] = []
    owner: dict[Any, str] = {}
    used: set[str] = set()
    for r in rendered:
        errors.extend(r.errors)
        written = 0
        for res in sorted(r.resources, key=lambda x: x.key):
            if res.key in owner:
                errors.append(RunError(f"also rendered by app {owner[res.key]}; written once, from that app",
                                       app=r.app.name, file=res.origin.file, line=res.origin.line,
                                       resource=str(res.key), stage="render"))
                continue
            owner[res.key] = r.app.name
            body = res.body if include_secret_values else redact_secret_values(res.body, DATA_MARKER,
                                                                                STRING_MARKER)
            try:
                digest, text = canonical_digest(body), dump_yaml(body).encode("utf-8")
            except ValueError as e:  # NaN/Infinity, an int JSON cannot carry, text that is not UTF-8
                errors.append(RunError(f"cannot be written as JSON/YAML ({str(e)[:120]}); left out",
                                       app=r.app.name, file=res.origin.file, line=res.origin.line,
                                       resource=utf8_text(str(res.key)), stage="render"))
                continue
            rel = _file_name(res, used)
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(text)
            objects.append(_object_entry(res, r.app.name, rel, digest))
            written += 1
        apps.append({"name": r.app.name, "path": utf8_text(r.app.path),
                     "namespace": r.app.destination.namespace, "origin": utf8_text(str(r.app.defined_by)),
                     "renderer": r.renderer, "objects": written,
                     "skipped_documents": r.skipped_documents,
                     "files_read": sorted(utf8_text(f) for f in r.files_read), "errors": len(r.errors)})
    objects.sort(key=lambda o: o["file"])
    return objects, apps


def _file_name(res: Resource, used: set[str]) -> str:
    """<namespace or _cluster>/<Kind>.<name>.yaml; the group joins the name when two kinds collide, and a
    hash of the key when even that is taken (names that differ only in a character _safe replaces)."""
    key = res.key
    folder = _capped(_safe(key.namespace)) if key.namespace else CLUSTER_DIR
    kind, name = _safe(key.kind), _safe(key.name)
    for stem in (f"{kind}.{name}", f"{kind}.{_safe(key.group or 'core')}.{name}",
                 f"{kind}.{name}.{_hash(str(key))}"):
        rel = f"{folder}/{_capped(stem, '.yaml')}"
        if rel not in used:
            break
    used.add(rel)
    return rel


def _capped(stem: str, suffix: str = "") -> str:
    """stem + suffix, or, over NAME_BYTES, stem cut short and followed by a hash of the whole stem."""
    if len((stem + suffix).encode()) <= NAME_BYTES:
        return stem + suffix
    tail = f"~{_hash(stem)}{suffix}"
    return stem.encode()[:NAME_BYTES - len(tail)].decode("utf-8", "ignore") + tail


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _safe(part: str) -> str:
    """A path component that cannot climb out of the output directory."""
    cleaned = part.replace("/", "_").replace("\\", "_").replace("\0", "_")
    return "_" if cleaned in ("", ".", "..") else cleaned


def _object_entry(res: Resource, app: str, rel: str, digest: str) -> dict[str, Any]:
    group, version = split_api_version(res.api_version)
    return {"file": rel, "app": app, "group": group, "version": version, "kind": res.key.kind,
            "namespace": res.key.namespace, "name": res.key.name, "sha256": digest,
            "source": {"file": res.origin.file, "line": res.origin.line}}


def _error_dict(e: RunError) -> dict[str, Any]:
    return {"message": e.message, "app": e.app, "file": e.file, "line": e.line, "resource": e.resource,
            "stage": e.stage, **({"severity": e.severity} if e.severity != "error" else {})}
