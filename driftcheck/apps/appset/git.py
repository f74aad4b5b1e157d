"""The git generator (directories and files) over this repository's tree at the run's commit, with
ArgoCD's path parameters (`applicationset/generators/git.go`)."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from driftcheck.apps.appset.context import Context, GeneratorError, Params, Skip, flatten, with_values
from driftcheck.apps.appset.template import go_string, sanitize_name
from driftcheck.fetch.tree import Tree
from driftcheck.render.yaml.stream import load_single


def _path_params(directory: str, prefix: str, go_template: bool, filename: str = "") -> Params:
    """path, path.basename, path.basenameNormalized, path[N] (or .path.segments), path.filename…"""
    base = posixpath.basename(directory)
    if go_template:
        node: Params = {"path": directory, "basename": base, "basenameNormalized": sanitize_name(base)}
        if filename:
            node.update(filename=filename, filenameNormalized=sanitize_name(filename))
        node["segments"] = directory.split("/")
        return {prefix: {"path": node}} if prefix else {"path": node}
    name = f"{prefix}.path" if prefix else "path"
    out: Params = {name: directory, f"{name}.basename": base,
                   f"{name}.basenameNormalized": sanitize_name(base)}
    if filename:
        out.update({f"{name}.filename": filename, f"{name}.filenameNormalized": sanitize_name(filename)})
    out.update({f"{name}[{i}]": s for i, s in enumerate(directory.split("/")) if s})
    return out


def git_params(spec: Mapping[str, Any], ctx: Context) -> list[Params]:
    """The git generator over this repository's tree at the run's commit."""
    url = str(spec.get("repoURL") or "")
    if ctx.tree is None or not ctx.is_this_repo(url):
        raise Skip(f"git generator repoURL {url} is another repository; only this repository is read")
    prefix = str(spec.get("pathParamPrefix") or "")
    if spec.get("files"):
        return _git_files(spec, ctx, prefix)
    patterns = [d for d in spec.get("directories") or [] if isinstance(d, dict)]
    if not patterns:
        raise GeneratorError("git generator without directories or files")
    out = []
    for directory in _directories(ctx.tree):
        excluded = [bool(d.get("exclude")) for d in patterns
                    if go_path_match(str(d.get("path", "")), directory)]
        if False in excluded and True not in excluded:  # an include matches and no exclude does
            out.append(directory)
    return [with_values(_path_params(d, prefix, ctx.go_template), spec.get("values"), ctx) for d in out]


def _directories(tree: Tree) -> list[str]:
    """Every directory of the checkout, lexically, those whose name starts with '.' skipped with their
    subtree (the repo-server's GetGitDirectories)."""
    dirs: set[str] = set()
    for file in tree.list_files("", recurse=True):
        parts = file.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            if parts[i - 1].startswith("."):
                break
            dirs.add("/".join(parts[:i]))
    return sorted(dirs)


def go_path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: `*` and `?` never cross '/', [...] classes, '\\' escapes; no `**`."""
    pat_parts, name_parts = pattern.split("/"), name.split("/")
    if len(pat_parts) != len(name_parts):
        return False
    return all(fnmatchcase(n, p.replace("[^", "[!")) for p, n in zip(pat_parts, name_parts, strict=True))


def _git_files(spec: Mapping[str, Any], ctx: Context, prefix: str) -> list[Params]:
    """Files matched by git's pathspec (`*` crosses '/', a directory names all below it), excludes
    removed, sorted by path; each a YAML/JSON object or a list of objects."""
    assert ctx.tree is not None
    every = ctx.tree.list_files("", recurse=True)
    include: set[str] = set()
    exclude: set[str] = set()
    for entry in spec["files"]:
        pattern = str(entry.get("path", "")) if isinstance(entry, dict) else ""
        hits = {f for f in every if fnmatchcase(f, pattern) or f.startswith(pattern.rstrip("/") + "/")}
        (exclude if isinstance(entry, dict) and entry.get("exclude") else include).update(hits)
    out: list[Params] = []
    for file in sorted(include - exclude):
        text = ctx.tree.read(file).decode("utf-8", "replace")
        try:
            data = load_single(text) if text.strip() else {}
        except ValueError as e:
            raise GeneratorError(f"unable to parse file {file}: {e}") from None
        objects = [data] if isinstance(data, dict) else data if isinstance(data, list) else None
        if objects is None or not all(isinstance(o, dict) for o in objects):
            raise GeneratorError(f"unable to parse file {file}: not an object or a list of objects")
        directory = posixpath.dirname(file) or "."
        for obj in objects:
            if ctx.go_template:
                params: Params = dict(obj)
            else:
                params = {k: go_string(v) for k, v in flatten(obj).items()}
            params.update(_path_params(directory, prefix, ctx.go_template, posixpath.basename(file)))
            out.append(with_values(params, spec.get("values"), ctx))
    return out
