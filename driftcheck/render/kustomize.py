"""Kustomize apps: the files a kustomization reads, and `kustomize build` on an export of the commit.

The build runs sandboxed (no network, no user git configuration) on a temporary export of the commit,
never the work tree, with kustomize's load restrictor on. Before it runs, the kustomization is checked
as kustomize will read it (after the ArgoCD options are written into it, through every base, component,
patch and generator input): anything that is not an existing local path inside the repository, and
any kustomization that does not parse, stops the build. So the result depends only on what Git holds.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftcheck.fetch.tree import FileReader, Tree
from driftcheck.model import KustomizeOptions, Origin, Render, RunError
from driftcheck.render import sandbox
from driftcheck.render.kustomize_options import kustomize_edits
from driftcheck.render.renderer import Document, Output, Target
from driftcheck.render.yaml import dump_yaml, load_manifests

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# What kustomize's repospec parser (NewRepoSpecFromURL) or its HTTP file loader would take as remote: a
# scheme, git::/gh:/github.com, a query (?ref=), Azure's _git/, go-getter's //, and scp-like
# [user@]host:path (an @ or : before the first /). Such a reference is refused even if a local file of
# that name exists, since kustomize tries the remote reading first.
_REMOTE = re.compile(r"://|^(?:git::|gh:|github\.com)|\?|_git/|//|^[^/]*[@:]", re.IGNORECASE)
_PATH_FIELDS = ("resources", "bases", "components", "crds", "configurations")
_PLUGIN_FIELDS = ("generators", "transformers", "validators")  # a file, directory or inline config
_PLUGIN_PATH_KEYS = frozenset({"path", "paths", "files", "envs", "env", "valuesFile", "additionalValuesFiles",
                               "chartHome"})
_SECRET_KIND = re.compile(rb"""kind['"]?\s*:\s*['"]?Secret\b""")


def kustomization_file(tree: FileReader, directory: str) -> str | None:
    """The kustomization file in directory at this commit, if any."""
    for name in KUSTOMIZATION_NAMES:
        candidate = posixpath.join(directory, name) if directory else name
        if tree.exists(candidate) and not tree.is_dir(candidate):
            return candidate
    return None


@dataclass
class Inputs:
    """Every repository file a kustomization (and its bases, components, patches...) reads."""

    files: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)  # files holding resources, for origin tracing


def inputs(tree: FileReader, directory: str) -> Inputs:
    """Walk the kustomization graph from directory, statically, as kustomize would read it (what the
    render depends on; whether the build may run is `check_build`'s business)."""
    found = Inputs()
    _walk(tree, directory, found, set())
    return found


def _walk(tree: FileReader, directory: str, found: Inputs, seen: set[str]) -> None:
    kfile = kustomization_file(tree, directory)
    if kfile is None or kfile in seen:
        return
    seen.add(kfile)
    _add(found.files, kfile)
    docs, _ = load_manifests(tree.read(kfile), kfile)
    spec: dict[str, Any] = docs[0][0] if len(docs) == 1 else {}
    manifest_refs = {r for name in ("resources", "bases", "crds") for r in _list(spec.get(name))}
    for _, ref in _references(spec):
        target = posixpath.normpath(posixpath.join(directory, ref))
        if _REMOTE.search(ref) or posixpath.isabs(ref) or target == ".." or target.startswith("../"):
            continue
        if tree.is_dir(target):
            _walk(tree, "" if target == "." else target, found, seen)
        elif tree.exists(target):
            _add(found.files, target)
            if ref in manifest_refs:
                _add(found.manifests, target)


def _references(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, path) of every local path a kustomization names; inline patches and configs aside."""
    refs: list[tuple[str, str]] = []
    for name in (*_PATH_FIELDS, *_PLUGIN_FIELDS, "patchesStrategicMerge"):
        refs += [(name, r) for r in _list(spec.get(name)) if isinstance(r, str) and not _inline(r)]
    for name in ("patches", "patchesJson6902", "replacements"):
        refs += [(f"{name}[].path", p["path"]) for p in _list(spec.get(name))
                 if isinstance(p, dict) and isinstance(p.get("path"), str)]
    openapi = spec.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        refs.append(("openapi.path", openapi["path"]))
    for name in ("configMapGenerator", "secretGenerator"):
        for gen in _list(spec.get(name)):
            if isinstance(gen, dict):
                refs += [(f"{name}[].files", f.split("=", 1)[-1]) for f in _list(gen.get("files"))
                         if isinstance(f, str)]
                refs += [(f"{name}[].envs", e) for e in [*_list(gen.get("envs")), gen.get("env")]
                         if isinstance(e, str)]
    for chart in [*_list(spec.get("helmCharts")), spec.get("helmGlobals")]:
        refs += [(f"helm {k}", v) for k, v in _plugin_paths(chart)]
    return refs


def _inline(ref: str) -> bool:
    """A patch or plugin config written inline rather than a path to one."""
    return "\n" in ref or ref.lstrip().startswith(("{", "["))


def _plugin_paths(config: Any) -> list[tuple[str, str]]:
    """(key, path) of every file a builtin generator/transformer config (or Helm chart entry) reads."""
    found: list[tuple[str, str]] = []
    if isinstance(config, dict):
        for key, value in config.items():
            if key in _PLUGIN_PATH_KEYS:
                found += [(key, v.split("=", 1)[-1] if key == "files" else v)
                          for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
            else:
                found += _plugin_paths(value)
    elif isinstance(config, list):
        for item in config:
            found += _plugin_paths(item)
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


@dataclass
class BuildCheck:
    """Whether a kustomization may be built, and whether its input holds Secret values."""

    problems: list[RunError] = field(default_factory=list)
    secret_inputs: bool = False  # a secretGenerator or a Secret manifest: kustomize's errors may quote it


def check_build(root: Path, directory: str) -> BuildCheck:
    """Check the kustomization at root/directory as the build will read it, recursively: every
    reference an existing local path inside root, every kustomization parsing as one mapping."""
    check = BuildCheck()
    _check_dir(root, directory, check, set())
    return check


def _check_dir(root: Path, directory: str, check: BuildCheck, seen: set[str]) -> None:
    for name in KUSTOMIZATION_NAMES:
        kfile = posixpath.join(directory, name) if directory else name
        if (root / kfile).is_file() and kfile not in seen:
            seen.add(kfile)
            _check_file(root, directory, kfile, check, seen)


def _check_file(root: Path, directory: str, kfile: str, check: BuildCheck, seen: set[str]) -> None:
    data = (root / kfile).read_bytes()
    spec, problem = parse_kustomization(data, kfile)
    if problem is not None:
        check.problems.append(problem)
        return
    check.secret_inputs |= bool(spec.get("secretGenerator")) or bool(_SECRET_KIND.search(data))
    text = data.decode("utf-8", "replace")
    refs = _references(spec)
    for name in _PLUGIN_FIELDS:
        for config in _list(spec.get(name)):
            if isinstance(config, str) and _inline(config):
                docs, _ = load_manifests(config.encode(), kfile)
                refs += [(f"{name} {k}", v) for body, _ in docs for k, v in _plugin_paths(body)]
    for name, ref in refs:
        reason = why_not_local(root, directory, ref)
        if reason:
            check.problems.append(RunError(f"{name} {ref!r} {reason}; the kustomization is not built",
                                           file=kfile, line=_line_of(text, ref)))
            continue
        target = posixpath.normpath(posixpath.join(directory, ref))
        if (root / target).is_dir():
            _check_dir(root, "" if target == "." else target, check, seen)
            continue
        content = (root / target).read_bytes()
        check.secret_inputs |= bool(_SECRET_KIND.search(content))
        if name in _PLUGIN_FIELDS:  # a config file: its own paths are read relative to this kustomization
            docs, _ = load_manifests(content, target)
            refs += [(f"{target}: {k}", v) for body, _ in docs for k, v in _plugin_paths(body)]


def why_not_local(root: Path, directory: str, ref: str) -> str | None:
    """Why ref is not an existing local path inside root, else None."""
    if _REMOTE.search(ref):
        return "is a remote reference (driftcheck renders offline, from the repository alone)"
    target = posixpath.normpath(posixpath.join(directory, ref))
    if not ref.strip() or posixpath.isabs(ref) or target == ".." or target.startswith("../"):
        return "reaches outside the repository"
    real, top = os.path.realpath(root / target), os.path.realpath(root)
    if real != top and not real.startswith(top + os.sep):
        return "leads outside the repository (through a symlink)"
    if not os.path.exists(real):
        return "does not exist in the repository"
    return None


def _line_of(text: str, ref: str) -> int:
    return next((i for i, line in enumerate(text.splitlines(), 1) if ref in line), 0)


def parse_kustomization(data: bytes, kfile: str) -> tuple[dict[str, Any], RunError | None]:
    """The kustomization as one mapping, or why it is not one (then it is never built: kustomize reads
    YAML more leniently, duplicate keys for instance, and would build what no check has seen)."""
    docs, errors = load_manifests(data, kfile)
    if errors:
        return {}, RunError(f"the kustomization does not parse, so it is not built: {errors[0].message}",
                            file=kfile, line=errors[0].line)
    content = [line for line in data.decode("utf-8", "replace").splitlines()
               if line.strip() and not line.lstrip().startswith("#") and line.strip() not in ("---", "...")]
    if len(docs) > 1 or (not docs and content):
        return {}, RunError("the kustomization is not one YAML mapping, so it is not built", file=kfile)
    return (docs[0][0] if docs else {}), None


def builder() -> list[str] | None:
    """The kustomize command on PATH: `kustomize build`, else `kubectl kustomize`."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render(tree: Tree, path: str, options: Render, target: Target, timeout: float) -> Output:
    """Build the kustomization at path: its objects, errors and the files it reads."""
    kfile = kustomization_file(tree, path) or path
    graph = inputs(tree, path)
    out = Output(files_read=list(graph.files))
    command = builder()
    if command is None:
        out.errors.append(RunError("Kustomize app, but neither kustomize nor kubectl is on PATH",
                                   app=target.app, file=path))
        return out
    if options.kustomize is not None and options.kustomize.refused:
        out.errors.append(RunError(f"spec.source.kustomize: {options.kustomize.refused}", app=target.app,
                                   **_declared_at(target, kfile)))
        return out
    edits = _as_argocd(options.kustomize) if options.kustomize is not None else {}
    with tree.exported(private=bool(edits)) as (root, export_errors):
        # Only the export's complaints about files this build reads concern this app.
        out.errors.extend(e for e in export_errors if e.file in graph.files or e.file.startswith(f"{path}/"))
        if edits and not _edit_as_argocd(root, path, kfile, target, edits, out):
            return out
        built = build_export(command, root, path, kfile, target, timeout, out)
    if built is None:
        return out
    docs, errors = load_manifests(built, f"{' '.join(command)} {path}")
    out.errors.extend(errors)
    trace = Tracer(tree, graph.manifests, kfile)
    out.documents.extend(Document(body, trace.origin(body)) for body, _ in docs)
    return out


def build_export(command: list[str], root: Path, path: str, kfile: str, target: Target, timeout: float,
                 out: Output, args: tuple[str, ...] = ()) -> bytes | None:
    """check_build, then the sandboxed build of the export's root/path (with args such as a load
    restrictor): its YAML, or None with the errors in out."""
    check = check_build(root, path)
    if check.problems:
        out.errors.extend(check.problems)
        return None
    try:
        proc = sandbox.run([*command, *args, str(root / path)], cwd=root, timeout=timeout)
    except sandbox.RenderTimeout:
        out.errors.append(RunError(f"{' '.join(command)} did not finish within {timeout:g} s",
                                   app=target.app, file=path))
        return None
    if proc.returncode != 0:
        out.errors.append(RunError(_failure(command, proc, root, kfile, check.secret_inputs),
                                   app=target.app, file=kfile))
        return None
    return proc.stdout


def _declared_at(target: Target, fallback: str) -> dict[str, Any]:
    """file and line of the app's declaration ("argocd/web.yaml:3"), for errors in its options."""
    where = re.fullmatch(r"(.+):(\d+)", target.declared_at)
    return {"file": where[1], "line": int(where[2])} if where else {"file": target.declared_at or fallback}


def _as_argocd(options: KustomizeOptions) -> dict[str, Any]:
    """The options given, spelled as `kustomize_edits` applies them (ArgoCD's field names)."""
    block: dict[str, Any] = {key: value for key, value in (
        ("namePrefix", options.name_prefix), ("nameSuffix", options.name_suffix),
        ("namespace", options.namespace), ("images", list(options.images)),
        ("components", list(options.components)), ("patches", [dict(p) for p in options.patches]),
        ("replicas", [{"name": r.name, "count": r.count} for r in options.replicas])) if value}
    for key, given in (("commonLabels", options.common_labels),
                       ("commonAnnotations", options.common_annotations)):
        if given is not None:
            block[key] = dict(given)
    return block


def _edit_as_argocd(root: Path, path: str, kfile: str, target: Target, options: dict[str, Any],
                    out: Output) -> bool:
    """Write the Application's kustomize options into the exported kustomization, as ArgoCD does; False
    (with the errors in out) when a path the options add is not local or the kustomization does not parse."""
    added = [("patches[].path", p["path"]) for p in options.get("patches", [])
             if isinstance(p.get("path"), str)]
    added += [("components", c) for c in options.get("components", [])]
    problems = [RunError(f"spec.source.kustomize.{name} {ref!r} {reason}; the kustomization is not built",
                         app=target.app, **_declared_at(target, kfile))
                for name, ref in added if (reason := why_not_local(root, path, ref))]
    spec, problem = parse_kustomization((root / kfile).read_bytes(), kfile)
    out.errors.extend([*problems, *([problem] if problem else [])])
    if problems or problem:
        return False
    (root / kfile).write_text(dump_yaml(kustomize_edits(spec, options)), encoding="utf-8")
    out.files_read.extend(posixpath.normpath(posixpath.join(path, ref)) for name, ref in added
                          if name.startswith("patches"))
    return True


def _failure(command: list[str], proc: sandbox.Completed, root: Path, kfile: str, secret_inputs: bool) -> str:
    """What a failed build says. Its own text can quote secretGenerator literals and env-file lines, so it
    is withheld for a build with Secret input and redacted otherwise."""
    if secret_inputs:
        return (f"{' '.join(command)} failed (exit {proc.returncode}); its message is withheld because the "
                f"build reads Secret input (a secretGenerator or a Secret manifest) it could quote: run "
                f"`kustomize build {posixpath.dirname(kfile) or '.'}` yourself to see it")
    detail = sandbox.renderer_message(proc.stderr, root)
    return f"{' '.join(command)} failed: {detail or f'exit {proc.returncode}'}"


class Tracer:
    """Finds the source file:line of a built object by kind and name among the files the build read."""

    def __init__(self, tree: Tree, files: list[str], fallback: str) -> None:
        self.sha = tree.sha
        self.fallback = fallback
        self.fallback_text = tree.read(fallback).decode("utf-8", "replace") if tree.exists(fallback) else ""
        self.by_kind_name: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for file in files:
            docs, _ = load_manifests(tree.read(file), file)
            for body, line in docs:
                name = str((body.get("metadata") or {}).get("name", ""))
                self.by_kind_name.setdefault((str(body.get("kind", "")), name), []).append((file, line))

    def origin(self, body: dict[str, Any]) -> Origin:
        kind = str(body.get("kind", ""))
        name = str((body.get("metadata") or {}).get("name", ""))
        exact = self.by_kind_name.get((kind, name))
        if exact:
            return Origin("git", exact[0][0], exact[0][1], self.sha)
        # namePrefix / nameSuffix: a single source of that kind whose name the built name contains.
        near = [places[0] for (k, n), places in self.by_kind_name.items() if k == kind and n and n in name]
        if len(near) == 1:
            return Origin("git", near[0][0], near[0][1], self.sha)
        return Origin("git", self.fallback, self._line_in_fallback(name), self.sha)

    def _line_in_fallback(self, name: str) -> int:
        """Generated objects (configMapGenerator...): the line of the longest `name:` the built name
        contains (prefixes, suffixes and content hashes aside), else 1."""
        best, best_len = 1, 0
        for i, line in enumerate(self.fallback_text.splitlines(), 1):
            m = re.search(r"\bname:\s*['\"]?([\w.-]+)", line)
            if m and m.group(1) in name and len(m.group(1)) > best_len:
                best, best_len = i, len(m.group(1))
        return best
