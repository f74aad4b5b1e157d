"""A run over several clusters: each read once, a few at a time, and one result per cluster.

`ClusterResult` is the seam for what comes after the per-cluster reports (a fleet summary, sharding):
its report, or why there is none.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from driftcheck.clusters.plan import ClusterRun
from driftcheck.model import AuditReport, DriftcheckError, LiveState

WORKERS = 4  # clusters read at once; each reader LISTs with its own few threads


@dataclass
class ClusterResult:
    """One destination cluster's outcome: its report, or the error that kept it from being audited."""

    name: str
    server: str
    apps: list[str]
    report: AuditReport | None = None
    error: str = ""


@dataclass
class FleetRun:
    results: list[ClusterResult] = field(default_factory=list)
    explained: str | None = None  # --explain's text, from the first cluster that has the resource

    @property
    def reports(self) -> list[AuditReport]:
        return [r.report for r in self.results if r.report is not None]


class ReadCount:
    """How many of the run's clusters are read, for the `clusters read: N/M` lines. A forked worker
    counts its own share; the run renumbers the lines as they reach it (`in_order`), since lines from
    several workers may arrive in another order than they were counted."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.started = time.monotonic()  # CLOCK_MONOTONIC: one clock for the forked workers too
        self._lock = threading.Lock()
        self._done = 0

    def one_more(self) -> int:
        with self._lock:
            self._done += 1
            return self._done

    def in_order(self, progress: Callable[[str], None],
                 rendered: tuple[int, int] = (0, 0)) -> Callable[[str], None]:
        """progress, with each `clusters read: N/M` line numbered by this count as it is shown, and each
        `apps rendered` line (a leaf app rendered where its cluster is audited: see audit.render_deferred)
        counted on from `rendered`, the (apps rendered before, apps in all)."""
        apps = list(rendered)

        def show(line: str) -> None:
            counted = _COUNTED.match(line)
            if counted:
                line = f"clusters read: {self.one_more()}/{self.total}{line[counted.end():]}"
            elif (counted := _RENDERED.match(line)) is not None:
                apps[0] += 1
                line = f"apps rendered: {apps[0]}/{apps[1]}{line[counted.end():]}"
            progress(line)
        return show


_COUNTED = re.compile(r"clusters read: \d+/\d+")
_RENDERED = re.compile(r"apps rendered: \d+/\d+")


def read_all(runs: list[ClusterRun], read: Callable[[ClusterRun], LiveState],
             progress: Callable[[str], None], count: ReadCount | None = None, workers: int = WORKERS,
             ) -> Iterator[tuple[ClusterRun, LiveState | DriftcheckError]]:
    """Each run's live state (or the DriftcheckError that stopped it), in the runs' order, read by a
    bounded pool so that reads run ahead while the caller compares the ones already read; `count` when
    these runs are a share of the run's clusters. The one cluster of a run is read in this thread and its
    error raised, as a one-cluster run always has."""
    if len(runs) == 1 and count is None:
        yield runs[0], read(runs[0])
        return
    count = count or ReadCount(len(runs))

    def timed(run: ClusterRun) -> LiveState:
        live = read(run)
        progress(f"clusters read: {count.one_more()}/{count.total} ({run.name}: {len(live.resources)} "
                 f"objects, {time.monotonic() - count.started:.1f} s)")
        return live

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(runs))),
                            thread_name_prefix="cluster") as pool:
        futures: list[Future[LiveState]] = [pool.submit(timed, run) for run in runs]
        for run, future in zip(runs, futures, strict=True):
            try:
                yield run, future.result()
            except DriftcheckError as exc:
                progress(f"cluster {run.name}: {exc}")
                yield run, exc
