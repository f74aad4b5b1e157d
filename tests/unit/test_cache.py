"""The shared content-addressed cache: blobs by digest, refs, and a lock that holds across processes."""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from pathlib import Path
from typing import Any

from driftcheck.fetch.cache import Cache


def test_put_stores_by_sha256_and_blob_finds_it(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    data = tmp_path / "download"
    data.write_bytes(b"chart bytes")
    digest = cache.put(data)
    assert digest == "sha256:" + hashlib.sha256(b"chart bytes").hexdigest()
    stored = cache.blob(digest)
    assert stored == tmp_path / "cache" / "blobs" / "sha256" / digest.removeprefix("sha256:")
    assert stored.read_bytes() == b"chart bytes"
    assert not data.exists()  # moved in, not copied


def test_same_content_twice_is_one_blob(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(b"same")
    assert cache.put(tmp_path / "a") == cache.put(tmp_path / "b")
    assert len(list((tmp_path / "blobs" / "sha256").iterdir())) == 1


def test_unknown_or_malformed_digest_is_no_blob(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    assert cache.blob("sha256:" + "0" * 64) is None
    assert cache.blob("sha256:../../etc/passwd") is None
    assert cache.blob("md5:abc") is None


def test_ref_points_at_a_digest_and_survives_a_new_cache_object(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    digest = Cache(tmp_path).put(tmp_path / "f")
    Cache(tmp_path).set_ref("chart https://x/ app 1.0.0", digest)
    assert Cache(tmp_path).ref("chart https://x/ app 1.0.0") == digest
    assert Cache(tmp_path).ref("chart https://x/ app 1.0.1") is None


def test_ref_whose_blob_is_gone_is_no_ref(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    (tmp_path / "f").write_bytes(b"x")
    digest = cache.put(tmp_path / "f")
    cache.set_ref("k", digest)
    blob = cache.blob(digest)
    assert blob is not None
    blob.unlink()
    assert cache.ref("k") is None


def _hold(root: str, key: str, held: Any, seconds: float) -> None:
    with Cache(Path(root)).lock(key):
        held.set()
        time.sleep(seconds)
        (Path(root) / "released").touch()  # still inside the lock


def test_lock_excludes_another_process_until_released(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    held = ctx.Event()
    child = ctx.Process(target=_hold, args=(str(tmp_path), "chart k", held, 1.5))
    child.start()
    try:
        assert held.wait(30)
        start = time.monotonic()
        with Cache(tmp_path).lock("another key"):
            assert time.monotonic() - start < 0.5  # other keys are not held up
        with Cache(tmp_path).lock("chart k"):
            assert (tmp_path / "released").exists()  # it waited for the child's release
    finally:
        child.join(30)
