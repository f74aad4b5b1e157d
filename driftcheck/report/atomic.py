"""Atomic file and directory publication: a reader sees the old version or the whole new one, never a part.

Data goes to a temporary name in the destination's own directory (same filesystem), is flushed to disk,
and is then renamed over the final name. On any failure the temporary is removed and the error re-raised.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def atomic_write(path: Path, data: bytes | str) -> Path:
    """Replace path with data in one rename; the previous file stays intact if anything fails."""
    payload = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(payload)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _sync_dir(path.parent)
    return path


@contextlib.contextmanager
def staged_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling directory to fill; on success it is renamed to final, else removed.

    final must not exist yet: a run directory is published once and never overwritten.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield staging
        for child in staging.iterdir():
            with open(child, "rb") as written:
                os.fsync(written.fileno())
        staging.chmod(0o755)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _sync_dir(final.parent)


def _sync_dir(directory: Path) -> None:
    """Make the rename itself durable (it lives in the directory entry)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
