"""Unpacking a chart archive (.tgz) or an OCI artifact's layer safely: nothing written outside, bounded.

A chart archive comes from a repository we do not control. Any entry that could write or point outside
the chart (an absolute name, a `..` component, a link leading out, a device file) refuses the whole
archive, as ArgoCD's untar does, and so do archives past the size or entry limits (a gzip bomb stops at
the limit, not at the disk's end). Links that stay inside the chart are kept: Helm reads through them.
A Flux artifact layer (`extract_layer`) has no top-level directory; its symlinks are skipped, as
source-controller's untar skips them, and a hard link is refused (Go's tar reader would write it empty).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
import zlib
from pathlib import Path
from typing import IO

from driftcheck.model import DriftcheckError
from driftcheck.textsafe import for_terminal

MAX_CHART_BYTES = 100 << 20  # Helm's own cap on a decompressed chart (loader.MaxDecompressedChartSize)
MAX_CHART_FILES = 10_000  # entries; the largest public charts hold a few hundred
_CHUNK = 1 << 20


class ArchiveError(DriftcheckError):
    """An archive refused; the message names the archive and the entry."""


def _refused(name: str, entry: str, why: str) -> ArchiveError:
    shown = f"{name}: entry {for_terminal(repr(entry))}: " if entry else f"{name}: "
    return ArchiveError(f"{shown}{why}; archive refused")


def _parts(name: str, entry: str) -> list[str]:
    """The path components of an entry name; refused when absolute or with a `..` component."""
    if entry.startswith("/"):
        raise _refused(name, entry, "absolute path")
    parts = [p for p in entry.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refused(name, entry, "'..' path component")
    if not parts:
        raise _refused(name, entry, "empty path")
    return parts


def _inside(relative: str, top: str) -> bool:
    return relative == top or relative.startswith(top + "/")


def _copy(source: IO[bytes], target: Path, executable: bool) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755 if executable else 0o644)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out, _CHUNK)


def extract_chart(archive: Path, dest: Path, *, max_bytes: int = MAX_CHART_BYTES,
                  max_files: int = MAX_CHART_FILES, name: str = "") -> Path:
    """Unpack archive into dest (which should be empty); the chart directory (it holds Chart.yaml).

    name is how messages call the archive (default: its file name). Entries are read in order, so the
    limits apply before anything past them is decompressed. (Not tarfile's "r|gz" stream mode: it
    cannot read the gzip extra field Helm writes into every archive's header.)
    """
    name = name or archive.name
    dest.mkdir(parents=True, exist_ok=True)
    top = ""
    total = entries = 0
    links: list[tuple[Path, str]] = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                entries += 1
                if entries > max_files:
                    raise _refused(name, "", f"more than {max_files} entries (the limit on files in a chart)")
                parts = _parts(name, member.name)
                top = top or parts[0]
                if parts[0] != top:
                    raise _refused(name, member.name, f"outside the chart directory {top!r} (a chart archive "
                                   "holds one top-level directory)")
                relative, target = "/".join(parts), dest.joinpath(*parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if member.isreg() or member.islnk():
                    total += member.size
                    if total > max_bytes:
                        raise _refused(name, member.name, f"the chart unpacks to more than {max_bytes} bytes "
                                       "(the limit on a chart's size)")
                target.parent.mkdir(parents=True, exist_ok=True)
                if member.isreg():
                    source = tar.extractfile(member)
                    assert source is not None  # a regular member always has content
                    _copy(source, target, bool(member.mode & 0o100))
                elif member.islnk():
                    linked = "/".join(_parts(name, member.linkname))
                    original = dest / linked
                    if not _inside(linked, top) or original.is_symlink() or not original.is_file():
                        raise _refused(name, member.name, "hard link to something that is not a file of "
                                       "the chart")
                    with original.open("rb") as source_file:
                        _copy(source_file, target, os.access(original, os.X_OK))
                elif member.issym():
                    pointed = posixpath.normpath(posixpath.join(posixpath.dirname(relative), member.linkname))
                    if member.linkname.startswith("/") or not _inside(pointed, top):
                        raise _refused(name, member.name, f"symlink to {for_terminal(repr(member.linkname))} "
                                       "leads outside the chart")
                    links.append((target, member.linkname))
                else:
                    raise _refused(name, member.name, "device, FIFO or other special file")
        # Made last, so no entry above was written through one; checked once all exist, since one link
        # may lead through another (`a -> d/../..` with `d -> ..`).
        for target, link in links:
            os.symlink(link, target)
        chart_real = os.path.realpath(dest / top) if top else ""
        for target, link in links:
            real = os.path.realpath(target)
            if real != chart_real and not real.startswith(chart_real + os.sep):
                raise _refused(name, str(target.relative_to(dest)), f"symlink to {for_terminal(repr(link))} "
                               "leads outside the chart")
    except ArchiveError:
        raise
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise ArchiveError(f"{name}: not a readable .tgz archive ({for_terminal(str(e))})") from None
    except OSError as e:
        raise ArchiveError(f"{name}: cannot be unpacked: {e.strerror or e}") from None
    if not top:
        raise _refused(name, "", "empty archive")
    chart = dest / top
    if not (chart / "Chart.yaml").is_file() or (chart / "Chart.yaml").is_symlink():
        raise _refused(name, "", f"no {top}/Chart.yaml (not a Helm chart)")
    return chart


def extract_layer(archive: Path, dest: Path, *, name: str, max_bytes: int = MAX_CHART_BYTES,
                  max_files: int = MAX_CHART_FILES) -> int:
    """Unpack a tar+gzip layer into dest (which should be empty): regular files and directories only,
    symlinks skipped; the number of symlinks skipped. Refused as a chart archive is for a `..` component,
    an absolute name, a special file, a hard link, or past the size and entry caps."""
    dest.mkdir(parents=True, exist_ok=True)
    total = entries = skipped = 0
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                entries += 1
                if entries > max_files:
                    raise _refused(name, "", f"more than {max_files} entries")
                if "\\" in member.name:
                    raise _refused(name, member.name, "backslash in the name")
                parts = _parts(name, member.name)
                target = dest.joinpath(*parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.issym():
                    skipped += 1
                elif member.isreg():
                    total += member.size
                    if total > max_bytes:
                        raise _refused(name, member.name, f"the layer unpacks to more than {max_bytes} bytes")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if target.is_symlink() or target.is_dir():
                        raise _refused(name, member.name, "written over a directory")
                    if target.exists():
                        target.unlink()  # a later entry of the same name wins, as in Go's untar
                    source = tar.extractfile(member)
                    assert source is not None  # a regular member always has content
                    _copy(source, target, bool(member.mode & 0o100))
                elif member.islnk():
                    raise _refused(name, member.name, "hard link")
                else:
                    raise _refused(name, member.name, "device, FIFO or other special file")
    except ArchiveError:
        raise
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise ArchiveError(f"{name}: not a readable tar+gzip layer ({for_terminal(str(e))})") from None
    except OSError as e:
        raise ArchiveError(f"{name}: cannot be unpacked: {e.strerror or e}") from None
    return skipped
