"""driftcheck.forked: shares of work in forked children, their results streamed back, what a child loses."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from driftcheck import forked, scrub
from driftcheck.forked import WorkerLost, available_cpus, balanced, run_forked
from driftcheck.model import DriftcheckError

Progress = Callable[[str], None]


def test_each_share_runs_in_its_own_child_and_its_results_come_back_in_order() -> None:
    def work(share: list[int], progress: Progress) -> Iterator[tuple[int, int]]:
        for n in share:
            progress(f"item {n}")
            yield os.getpid(), n * n

    lines: list[str] = []
    got = list(run_forked([[1, 2, 3], [4, 5]], work, lines.append))
    assert all(not isinstance(g, WorkerLost) for g in got)
    pids = {pid for pid, _ in got}  # type: ignore[misc]
    assert len(pids) == 2 and os.getpid() not in pids
    by_child = {pid: [sq for p, sq in got if p == pid] for pid in pids}  # type: ignore[misc]
    assert sorted(by_child.values()) == [[1, 4, 9], [16, 25]]  # each share's results in its own order
    assert sorted(lines) == [f"item {n}" for n in range(1, 6)]


def test_a_driftcheck_error_in_a_child_is_raised_in_the_parent() -> None:
    def work(share: list[str], _progress: Progress) -> Iterator[str]:
        yield from ()
        raise DriftcheckError(f"rules file not found: {share[0]}")

    with pytest.raises(DriftcheckError, match=r"rules file not found: x\.yaml"):
        list(run_forked([["x.yaml"]], work, lambda _line: None))


def test_a_bug_in_a_child_is_raised_with_its_traceback() -> None:
    def work(_share: list[int], _progress: Progress) -> Iterator[int]:
        yield 1 // 0

    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        list(run_forked([[0]], work, lambda _line: None))


def test_a_killed_child_loses_what_it_had_left_and_the_others_finish() -> None:
    def work(share: list[str], _progress: Progress) -> Iterator[str]:
        for name in share:
            if name == "doomed":
                os.kill(os.getpid(), signal.SIGKILL)
            yield name

    got = list(run_forked([["a", "doomed", "b"], ["c"]], work, lambda _line: None))
    assert sorted(g for g in got if isinstance(g, str)) == ["a", "c"]
    [lost] = [g for g in got if isinstance(g, WorkerLost)]
    assert lost.share == ["a", "doomed", "b"]
    assert lost.why == "its worker process was killed by SIGKILL (out of memory?)"


def test_credentials_a_child_registered_are_hidden_by_the_parent_too() -> None:
    secret = f"child-token-{os.getpid()}-x9"

    def work(_share: list[int], progress: Progress) -> Iterator[str]:
        scrub.register(secret)  # as loading a kubeconfig in the child does
        progress(f"using {secret}")
        yield f"error: {secret} refused"

    lines: list[str] = []
    [result] = run_forked([[0]], work, lines.append)
    assert lines == ["using ***"]  # scrubbed in the child
    assert scrub.scrub(str(result)) == "error: *** refused"  # and the parent knows the credential now


def test_balanced_shares_keep_order_and_split_the_weight() -> None:
    assert balanced([5, 1, 1, 1, 1, 1], lambda w: w, 2) == [[5], [1, 1, 1, 1, 1]]
    assert balanced(["a", "b", "c", "d"], lambda _x: 1, 2) == [["a", "c"], ["b", "d"]]
    assert balanced(["only"], lambda _x: 1, 4) == [["only"]]


def test_available_cpus_follows_the_cgroup_quota(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(forked, "_CGROUP_CPU_MAX", cpu_max)
    affinity = len(os.sched_getaffinity(0))
    assert available_cpus() == affinity  # no cgroup file
    cpu_max.write_text("max 100000\n")
    assert available_cpus() == affinity
    cpu_max.write_text("50000 100000\n")  # half a CPU: one process
    assert available_cpus() == 1


def test_a_child_starts_its_own_jq_process_rather_than_sharing_the_parents() -> None:
    from driftcheck.compare import jqeval

    assert jqeval.paths(".a", {}, [{"a": 1}]) == [[["a"]]]  # the parent's jq child is running
    parents = jqeval._worker[0].proc.pid

    def work(_share: list[int], _progress: Progress) -> Iterator[tuple[object, int]]:
        yield jqeval.paths(".b", {}, [{"b": 2}]), jqeval._worker[0].proc.pid

    [(found, childs)] = run_forked([[0]], work, lambda _line: None)  # type: ignore[misc]
    assert found == [[["b"]]] and childs != parents
    assert jqeval._worker[0].proc.pid == parents and jqeval.paths(".c", {}, [{"c": 3}]) == [[["c"]]]


def test_a_child_starts_its_own_git_cat_file_rather_than_sharing_the_parents(tmp_path: Path) -> None:
    import subprocess

    from driftcheck.fetch.git import open_repo

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "commit", "-q", "--allow-empty", "-m", "one"], check=True)
    repo = open_repo(str(tmp_path))
    head = repo.commit("HEAD").tree.hexsha  # reading an object starts the persistent cat-file
    parents = repo.git.cat_file_all.proc.pid  # type: ignore[union-attr]

    def work(_share: list[int], _progress: Progress) -> Iterator[tuple[str, int]]:
        yield repo.commit("HEAD").tree.hexsha, repo.git.cat_file_all.proc.pid  # type: ignore[union-attr]

    [(tree, childs)] = run_forked([[0]], work, lambda _line: None)  # type: ignore[misc]
    assert tree == head and childs != parents
    assert repo.commit("HEAD").tree.hexsha == head  # the parent's own process still answers


def test_progress_from_a_childs_threads_never_splits_a_result_it_is_sending() -> None:
    """A child's reader threads tell progress while its main thread sends results too large for one write
    to the pipe: each frame arrives whole (interleaved writes once failed a fleet run: UnpicklingError)."""
    def work(share: list[int], told: Callable[[str], None]) -> Iterator[bytes]:
        def chatter() -> None:
            for n in range(2000):
                told(f"line {n}")

        threads = [threading.Thread(target=chatter) for _ in range(3)]
        for thread in threads:
            thread.start()
        for item in share:
            yield bytes([item]) * (1 << 20)  # 1 MiB: many partial writes into a 64 KiB pipe
        for thread in threads:
            thread.join()

    lines: list[str] = []
    results = list(run_forked([list(range(8)), list(range(8, 16))], work, lines.append))
    assert sorted(r[0] for r in results) == list(range(16))
    assert all(len(r) == 1 << 20 and r == bytes([r[0]]) * len(r) for r in results)
    assert len(lines) == 2 * 3 * 2000
