"""The manifest files of a run's plain-directory apps parsed ahead, in forked workers (driftcheck.forked).

Loading YAML is most of rendering a plain directory (about 0.1 s per 1,000 small objects on one core) and
it is pure: bytes in, manifests out. With more than one CPU and enough bytes, the files are parsed in
worker processes into load.py's cache of parsed files (its own form: JSON text) while the render goes
on, unchanged and in app order: before each app it waits for that app's files (`ready`), so it finds
them parsed and its errors, warnings and lines are the same. A file that does not parse cleanly is not
kept, so the render parses it itself and says what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from driftcheck.forked import WorkerLost, balanced, run_forked
from driftcheck.render.yaml.load import load_manifests, parsed_entry, parsed_key, seed_parsed

MIN_BYTES = 1 << 20  # below this, forking costs more than it saves


class ParseAhead:
    """Files being parsed in workers, in the order given; `ready` waits for some of them."""

    def __init__(self, files: list[bytes], workers: int, progress: Callable[[str], None]) -> None:
        self.kept = 0
        self._pending: set[bytes] = set()
        self._stream: Iterator[tuple[bytes, str | None] | WorkerLost[list[bytes]]] = iter(())
        if workers > 1 and sum(map(len, files)) >= MIN_BYTES:
            self._pending = {parsed_key(data) for data in files}
            self._stream = run_forked(balanced(files, len, workers), _parse_share, progress)

    def ready(self, files: list[bytes]) -> None:
        """Return once each of these files is parsed and kept, or known not to be (broken, a lost worker)."""
        while self._pending & {parsed_key(data) for data in files}:
            got = next(self._stream, None)
            if got is None:  # every worker is done
                self._pending.clear()
            else:
                self._take(got)

    def finish(self) -> None:
        """Take every file still coming, so that no worker outlives the render."""
        for got in self._stream:
            self._take(got)
        self._pending.clear()

    def _take(self, got: tuple[bytes, str | None] | WorkerLost[list[bytes]]) -> None:
        if isinstance(got, WorkerLost):  # its files are parsed by the render itself
            self._pending -= {parsed_key(data) for data in got.share}
            return
        key, entry = got
        if entry is not None:
            seed_parsed(key, entry)
            self.kept += 1
        self._pending.discard(key)


def _parse_share(share: list[bytes], _progress: Callable[[str], None]) -> Iterator[tuple[bytes, str | None]]:
    for data in share:
        load_manifests(data, "")
        yield parsed_key(data), parsed_entry(data)
