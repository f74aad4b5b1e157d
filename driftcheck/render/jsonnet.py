"""Jsonnet files of a directory source, evaluated as ArgoCD's repo-server does, within bounds.

ArgoCD (`makeJsonnetVM`, `findManifests`) evaluates each `*.jsonnet` entry file with the source's
`directory.jsonnet` TLAs and external variables (values env-substituted, `code: true` as code), and
resolves imports from the importing file's directory, then the library paths, the last one first
(go-jsonnet's FileImporter): `libs` entries relative to the repository root, and before them the app
directory. Unlike ArgoCD, an import is refused when it is absolute or leads outside the repository
(through `..` or a symlink): the auditor's own files are no Git content. The output is one object or
an array of objects.

Jsonnet is a programming language: every file runs in one sandboxed child (`sandbox.run`: no network,
process group killed at the timeout) with its address space capped. The child imports nothing of
driftcheck, only the `jsonnet` package, so it starts in milliseconds.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftcheck.model.apps import JsonnetOptions
from driftcheck.render import sandbox
from driftcheck.render.argocd_env import envsubst
from driftcheck.render.yaml import MAX_FILE_BYTES

MEMORY = 2 << 30  # address space of the child (Python and the interpreter take ~30 MiB of it)

# The child: evaluate each file, imports confined to the export root; a JSON list of results on stdout.
_CHILD = r"""
import json, os, resource, sys
request = json.load(open(sys.argv[1], encoding="utf-8"))
resource.setrlimit(resource.RLIMIT_AS, (request["memory"], request["memory"]))
import _jsonnet
root = os.path.realpath(request["root"])
jpaths = [os.path.join(root, p) for p in request["jpaths"]]

def inside(p):
    return p == root or p.startswith(root + os.sep)

def imported(base, rel):
    if os.path.isabs(rel):
        raise RuntimeError("an absolute import path is refused (outside the repository)")
    for directory in [base, *reversed(jpaths)]:
        candidate = os.path.normpath(os.path.join(directory, rel))
        if not inside(candidate):
            raise RuntimeError("the import path leads outside the repository; refused")
        real = os.path.realpath(candidate)
        if not inside(real):
            raise RuntimeError("the import path is a symlink out of the repository; refused")
        if os.path.isfile(real):
            with open(real, "rb") as f:
                return candidate, f.read()
    raise RuntimeError("no such file next to the importing file or in the library paths")

results = []
for file in request["files"]:
    try:
        text = _jsonnet.evaluate_file(os.path.join(root, file), import_callback=imported, **request["vars"])
        results.append({"value": json.loads(text)})
    except RuntimeError as e:
        results.append({"error": str(e).replace(root + os.sep, "")})
json.dump(results, sys.stdout)
"""


class JsonnetError(Exception):
    """The whole evaluation failed (timeout, the child died, no interpreter); worded for the report."""


@dataclass(frozen=True)
class Evaluated:
    """One entry file: its objects, or why ArgoCD would fail the app on it."""

    file: str
    objects: tuple[dict[str, Any], ...] = ()
    error: str = ""


def evaluate(root: Path, app_path: str, files: list[str], options: JsonnetOptions, env: Mapping[str, str],
             timeout: float) -> list[Evaluated]:
    """files (repository paths of the export at root) evaluated with the source's jsonnet options; env
    is ArgoCD's build environment. Raises JsonnetError when no file could be evaluated at all."""
    jpaths = [app_path or "."]
    for lib in options.libs:
        normal = os.path.normpath(lib.lstrip("/"))
        if normal == ".." or normal.startswith("../"):
            return [Evaluated(f, error=f"directory.jsonnet.libs {lib!r} is outside the repository")
                    for f in files]
        jpaths.append(normal)
    variables: dict[str, dict[str, str]] = {"tla_vars": {}, "tla_codes": {}, "ext_vars": {}, "ext_codes": {}}
    for kind, entries in (("tla", options.tlas), ("ext", options.ext_vars)):
        for var in entries:
            variables[f"{kind}_{'codes' if var.code else 'vars'}"][var.name] = envsubst(var.value, env)
    with tempfile.TemporaryDirectory(prefix="driftcheck-jsonnet-") as tmp:
        request = Path(tmp) / "request.json"
        request.write_text(json.dumps({"root": str(root), "jpaths": jpaths, "files": files,
                                       "vars": variables, "memory": MEMORY}), encoding="utf-8")
        try:
            proc = sandbox.run([sys.executable, "-I", "-c", _CHILD, str(request)], cwd=root, timeout=timeout)
        except sandbox.RenderTimeout:
            raise JsonnetError(f"jsonnet did not finish within {timeout:g} s") from None
    if proc.returncode != 0 or len(proc.stdout) > MAX_FILE_BYTES:
        detail = sandbox.renderer_message(proc.stderr[-4096:], root).rsplit(": ", 1)[-1]
        if b"No module named '_jsonnet'" in proc.stderr:
            detail = "the jsonnet package is not installed (pip install jsonnet)"
        elif b"MemoryError" in proc.stderr or len(proc.stdout) > MAX_FILE_BYTES:
            detail = f"out of memory or output (limits {MEMORY >> 30} GiB, {MAX_FILE_BYTES} bytes)"
        raise JsonnetError(f"jsonnet evaluation failed: {detail}")
    return [_objects(file, result) for file, result in zip(files, json.loads(proc.stdout), strict=True)]


def _objects(file: str, result: dict[str, Any]) -> Evaluated:
    """ArgoCD's reading of the output: an array of objects, else one object; each needs a kind."""
    if "error" in result:
        message = " ".join(result["error"].split())[:2000]
        return Evaluated(file, error=f"Failed to evaluate jsonnet: {message}")
    value = result["value"]
    objects = [v for v in value if v is not None] if isinstance(value, list) else [value]
    if not all(isinstance(o, dict) and o.get("kind") for o in objects):
        return Evaluated(file, error="Failed to unmarshal generated json: the output is not an object or an "
                                     "array of objects, each with a kind")
    return Evaluated(file, tuple(objects))
