"""Which files a Helm render reads for valueFiles and fileParameters, by ArgoCD's rules.

repo-server `getResolvedValueFiles`, `getResolvedRefValueFile` and util/io/path `ResolveValueFilePathOrUrl`:
`$ref/x` is x from the root of the ref source (multi-source apps), an http(s) URL is downloaded (ArgoCD
lets Helm fetch it; here the parent fetches it, bounded, since the renderer child has no network), any
other scheme is refused, a leading `/` is the repository root, anything else is relative to the chart;
the result, symlinks resolved, must lie inside its root. Since ArgoCD 3.4 a path with `*`, `?` or `[` is
a doublestar glob whose matches come in ArgoCD's order, explicit entries keeping their own place.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftcheck.model import ValuesFile
from driftcheck.render.argocd_env import envsubst
from driftcheck.render.helm_run import HelmError
from driftcheck.render.yaml import MAX_FILE_BYTES
from driftcheck.scrub import mask_url

VALUES_FILE_SCHEMES = ("https", "http")  # argocd-cm helm.valuesFileSchemes, its default
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")  # where Go's url.Parse finds a scheme
_GLOB = re.compile(r"[*?\[]")  # ArgoCD's isGlobPath


@dataclass(frozen=True)
class Roots:
    """Where paths resolve: the exported repository, the chart directory in it, the ref sources' roots
    (None for a single-source app)."""

    repo: Path
    chart: Path
    refs: Mapping[str, Path] | None = None
    # where a symlink of the repository points (the export leaves out those that lead outside it)
    link: Callable[[str], str | None] = lambda path: None


@dataclass(frozen=True)
class ResolvedFile:
    """One file to hand Helm: on disk, or a URL to download first; shown names it in messages."""

    shown: str
    local: Path | None = None
    url: str = ""
    ref: str = ""  # "$name" when the file comes from a ref source, not this repository


def _locate(raw: str, roots: Roots, env: Mapping[str, str]) -> tuple[str, Path, Path, str]:
    """(substituted path, directory it is relative to, root it must stay in, "$ref" or "") for one raw
    entry."""
    name, _, rest = raw.partition("/")
    if raw.startswith("$") and roots.refs is not None:
        refs = roots.refs
        if name[1:] not in refs:
            if not refs:
                raise HelmError(f'source referenced "{name}", but no source has a \'ref\' field defined')
            known = ", ".join(f"${k}" for k in sorted(refs))
            raise HelmError(f'source referenced "{name}", which is not one of the available sources '
                            f"({known})")
        root = refs[name[1:]]
        return envsubst("/" + rest, env), root, root, name  # substituted after the ref is resolved
    return envsubst(raw, env), roots.chart, roots.repo, ""


def _inside(path: Path, root: Path) -> bool:
    return root in path.parents


def resolve_path(raw: str, roots: Roots, env: Mapping[str, str]) -> tuple[ResolvedFile, Path]:
    """One valueFiles or fileParameters entry resolved (a glob stays a pattern), and its root."""
    text, base, root, ref = _locate(raw, roots, env)
    scheme = _SCHEME.match(text)
    if scheme:
        if scheme.group(1).lower() in VALUES_FILE_SCHEMES:
            return ResolvedFile(mask_url(text), url=text, ref=ref), root
        raise HelmError(f"values file {mask_url(text)}: the URL scheme '{scheme.group(1)}' is not allowed")
    joined = root / text.lstrip("/") if text.startswith("/") else base / text
    real, real_root = Path(os.path.realpath(joined)), Path(os.path.realpath(root))
    if real == real_root:
        raise HelmError(f"values file {raw} resolves to the repository root, which is not allowed")
    if not _inside(real, real_root):
        raise HelmError(f"values file {raw} resolves outside the repository; not read")
    return _file(real, real_root, ref), real_root


def _file(real: Path, root: Path, ref: str) -> ResolvedFile:
    """A local file, shown by its repository path (prefixed with $ref for a ref source's file)."""
    rel = str(real.relative_to(root))
    return ResolvedFile(f"{ref}/{rel}" if ref else rel, local=real, ref=ref)


def _segment_regex(segment: str) -> re.Pattern[str]:
    """One path segment of a doublestar pattern: `*`, `?`, `[…]` (`!`/`^` negates), `{a,b}`, `\\x`."""
    out, i, depth = "", 0, 0
    while i < len(segment):
        c = segment[i]
        if c == "\\" and i + 1 < len(segment):
            out, i = out + re.escape(segment[i + 1]), i + 2
            continue
        if c == "*":
            out += ".*"
        elif c == "?":
            out += "."
        elif c == "[" and "]" in segment[i + 1:]:
            end = segment.index("]", i + 2 if segment[i + 1:i + 2] in ("!", "^") else i + 1)
            body = segment[i + 1:end]
            negate = body[:1] in ("!", "^")
            out += "[" + ("^" if negate else "") + (body[1:] if negate else body).replace("\\", "\\\\") + "]"
            i = end
        elif c == "{":
            out, depth = out + "(?:", depth + 1
        elif c == "}" and depth:
            out, depth = out + ")", depth - 1
        elif c == "," and depth:
            out += "|"
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + ")" * depth + r"\Z", re.DOTALL)


def _glob(directory: Path, segments: list[str]) -> Iterator[Path]:
    """Matches in doublestar's order: lexical within a directory; for `**`, zero segments first, then
    each subdirectory in turn (so a directory's own files come before its subdirectories')."""
    if not segments:
        yield directory
        return
    if not directory.is_dir():
        return
    head, rest = segments[0], segments[1:]
    if head == "**":
        yield from _glob(directory, rest)
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False):
                yield from _glob(Path(entry.path), segments)
        return
    if not _GLOB.search(head) and "{" not in head:
        if (directory / head).exists() or (directory / head).is_symlink():
            yield from _glob(directory / head, rest)
        return
    regex = _segment_regex(head)
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if regex.match(entry.name) and (rest == [] or entry.is_dir()):
            yield from _glob(Path(entry.path), rest)


def _expand(pattern: Path, root: Path, raw: str) -> list[Path]:
    """A glob's matching files, each required to resolve inside root (verifyGlobMatchesWithinRoot)."""
    rel = pattern.relative_to(root)
    matches = [m for m in _glob(root, list(rel.parts)) if not m.is_dir()]
    for match in matches:
        if not _inside(Path(os.path.realpath(match)), root):
            raise HelmError(f'values file glob "{raw}": {match.relative_to(root)} resolves outside the '
                            "repository; not read")
    return [Path(os.path.realpath(m)) for m in matches]


def resolve_values_files(values_files: Sequence[ValuesFile], roots: Roots,
                         env: Mapping[str, str]) -> list[ResolvedFile]:
    """The files Helm gets as --values, in ArgoCD's order, each once. A missing file or an empty glob is
    an error unless the entry is optional (ignoreMissingValueFiles); a URL is never optional."""
    explicit: set[Path] = set()
    for entry in values_files:
        try:
            resolved, _ = resolve_path(entry.path, roots, env)
        except HelmError:
            continue  # reported in the loop below
        if resolved.local and not _GLOB.search(str(resolved.local)):
            explicit.add(resolved.local)
    out: list[ResolvedFile] = []
    seen: set[Path | str] = set()

    def add(file: ResolvedFile) -> None:
        key = file.local or file.url
        if key not in seen:
            seen.add(key)
            out.append(file)

    for entry in values_files:
        resolved, root = resolve_path(entry.path, roots, env)
        if resolved.local is None:
            add(resolved)
        elif _GLOB.search(str(resolved.local.relative_to(root))):
            matches = _expand(resolved.local, root, entry.path)
            if not matches and not entry.optional:
                raise HelmError(f'values file glob "{entry.path}" matched no files')
            for match in matches:
                if match not in explicit:
                    add(_file(match, root, resolved.ref))
        elif resolved.local.is_file():
            add(resolved)
        elif not resolved.ref and (link := roots.link(resolved.shown)) is not None:
            raise HelmError(f"values file {entry.path} is a symlink to {link!r}, which leads outside the "
                            "repository; not read")
        elif not entry.optional:
            what = "is not a file" if resolved.local.exists() else "does not exist at this commit"
            raise HelmError(f"values file {resolved.shown} {what}")
    return out


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are followed (as Helm's getter does) only to http(s): never to ftp or a file."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        if not newurl.lower().startswith(("http://", "https://")):
            raise urllib.error.URLError(f"redirect to {mask_url(newurl)} refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects)


def download(file: ResolvedFile, dest: Path, timeout: float, offline: bool) -> Path:
    """A remote values file written to dest: within timeout and MAX_FILE_BYTES, or an error naming it."""
    if offline:
        raise HelmError(f"values file {file.shown}: remote, and the run is offline; not fetched")
    try:
        with _OPENER.open(file.url, timeout=timeout) as response:
            data = response.read(MAX_FILE_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = mask_url(str(getattr(e, "reason", None) or e))
        raise HelmError(f"values file {file.shown} could not be downloaded: {reason}") from None
    if len(data) > MAX_FILE_BYTES:
        raise HelmError(f"values file {file.shown} is larger than the {MAX_FILE_BYTES} byte limit; not read")
    dest.write_bytes(data)
    return dest
