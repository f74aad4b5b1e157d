"""The content-addressed store every fetcher shares: blobs by sha256, named refs to them, locks across runs.

Two runs (a CronJob overlapping a manual one) may fetch the same chart at once. Each takes the key's lock
(`fcntl.flock`, released when the process dies) before it looks or downloads, so the second waits and
then finds the first one's blob; files enter the store only by `os.replace`, so nobody ever reads half a
file. Layout under the root: `blobs/sha256/<hex>`, `refs/<sha256 of key>`, `locks/`, `tmp/`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """The "sha256:<hex>" digest of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


def _hex(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256" or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return value


def _key_name(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


class Cache:
    """One cache root (`--cache-dir`), shared by every process that points at it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.downloads = 0  # network downloads done through this Cache (the bench counts them)

    def _dir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        with open(self._dir("locks") / f"{_key_name(key)}.lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def lock(self, key: str) -> AbstractContextManager[None]:
        """Exclusive across processes (and threads: each holder opens its own lock file description)."""
        return self._locked(key)

    def scratch(self) -> AbstractContextManager[str]:
        """A private directory on the cache's filesystem (so `put` can rename out of it), removed after."""
        return tempfile.TemporaryDirectory(prefix="fetch-", dir=self._dir("tmp"))

    def put(self, data_file: Path) -> str:
        """Move a finished file into the store; its "sha256:<hex>". A blob already there is kept."""
        digest = file_digest(data_file)
        target = self._dir("blobs", "sha256") / _hex(digest)
        if target.exists():
            data_file.unlink()
        else:
            os.chmod(data_file, 0o444)
            os.replace(data_file, target)
        return digest

    def blob(self, digest: str) -> Path | None:
        """The stored file of digest, or None."""
        try:
            path = self.root / "blobs" / "sha256" / _hex(digest)
        except ValueError:
            return None
        return path if path.is_file() else None

    def ref(self, key: str) -> str | None:
        """The digest key names (e.g. "chart https://x/ name 1.2.3"), or None; a ref whose blob is gone
        is no ref."""
        try:
            data = json.loads((self.root / "refs" / _key_name(key)).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        digest = data.get("digest") if isinstance(data, dict) and data.get("key") == key else None
        return digest if isinstance(digest, str) and self.blob(digest) else None

    def set_ref(self, key: str, digest: str) -> None:
        """Point key at digest (written to a temporary file, then renamed over the old ref)."""
        _hex(digest)
        refs = self._dir("refs")
        fd, tmp = tempfile.mkstemp(prefix=".ref-", dir=refs)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"key": key, "digest": digest}, out)
        os.replace(tmp, refs / _key_name(key))

    def unpacked(self, digest: str, kind: str = "charts") -> Path:
        """Where the unpacked form of a blob lives (`charts/<hex>`, an OCI layer's `layers/<hex>`: one
        blob may be both, unpacked by different rules); the caller fills it under a lock."""
        return self._dir(kind) / _hex(digest)
