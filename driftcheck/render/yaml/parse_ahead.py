"""The manifest files of a run's plain-directory apps parsed ahead, in forked workers (driftcheck.forked).

Loading YAML is most of rendering a plain directory (about 0.1 s per 1,000 small objects on one core) and
it is pure: bytes in, manifests out. With more than one CPU and enough bytes, the files are parsed in
worker processes into load.py's cache of parsed files (its own form: JSON text), and the render that
follows, unchanged and in app order, finds them there: its errors, warnings and lines are the same. A
file that does not parse cleanly is not kept, so the render parses it again and says what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from driftcheck.forked import WorkerLost, balanced, run_forked
from driftcheck.render.yaml.load import load_manifests, parsed_entry, seed_parsed

MIN_BYTES = 1 << 20  # below this, forking costs more than it saves


def parse_ahead(files: list[bytes], workers: int, progress: Callable[[str], None]) -> int:
    """Parse these YAML files' bytes in up to `workers` processes; how many entries the cache gained."""
    if workers < 2 or sum(map(len, files)) < MIN_BYTES:
        return 0
    kept = 0
    for got in run_forked(balanced(files, len, workers), _parse_share, progress):
        if not isinstance(got, WorkerLost):  # a lost worker's files are parsed by the render itself
            seed_parsed(*got)
            kept += 1
    return kept


def _parse_share(share: list[bytes], _progress: Callable[[str], None]) -> Iterator[tuple[bytes, str]]:
    for data in share:
        load_manifests(data, "")
        entry = parsed_entry(data)
        if entry is not None:
            yield entry
