"""The Helm SDK worker: many renders in one sandboxed child, each within the bounds a child per render had
(timeout, memory cap per render, output limit, a death told at once), none seeing another's files or
templates, and the worker replaced when it dies, grows or has served its share."""

from __future__ import annotations

import importlib.util
import mmap
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from driftcheck.render import helm_pool
from driftcheck.render.helm_pool import NO_RENDERER, SdkPool
from driftcheck.render.helm_run import RENDER_MEMORY, HelmError
from driftcheck.render.helm_sdk import TemplateRequest, template_with_sdk

MIB = 1 << 20
_held: list[object] = []  # what a render leaves behind in its worker: address space, a chart handle


def pid() -> str:
    return str(os.getpid())


def where() -> str:
    """The render's own directory and temporary directory, and what the worker's HOME holds."""
    Path("left-behind").write_text("x")
    home = Path(os.environ["HOME"])
    return "\n".join([os.getcwd(), tempfile.gettempdir(), ",".join(p.name for p in home.iterdir())])


def hold(mib: int) -> str:
    """Map mib MiB (address space, untouched) and keep it mapped after the render: a grown Go heap."""
    _held.append(mmap.mmap(-1, mib * MIB))
    return pid()


def try_map(mib: int) -> str:
    try:
        with mmap.mmap(-1, mib * MIB):
            return "mapped"
    except OSError:
        return "refused"


def allocate(gib: int) -> str:
    return str(len(b"x" * (gib << 30)))


def big_output() -> str:
    return "x" * (70 * MIB)


def say_out_of_memory() -> str:
    os.write(2, b"runtime: out of memory (an earlier render's log line)\n")
    return pid()


def noisy() -> str:
    os.write(2, b"coalesce.go: warning: skipped value\n" * 60_000)  # ~2 MiB of Helm warnings
    return pid()


def die() -> str:
    os.kill(os.getpid(), signal.SIGKILL)
    return ""


def leak_chart(chart: str) -> str:
    import helm_python

    _held.append(helm_python.Chart.load(chart))  # never closed
    return pid()


@pytest.fixture
def pool(require: Callable[[bool, str], None]) -> Iterator[SdkPool]:
    require(importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra (helm-python-sdk)")
    made = SdkPool()
    yield made
    made.shutdown()


def write_chart(root: Path, name: str, template: str) -> Path:
    (root / name / "templates").mkdir(parents=True)
    (root / name / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
    (root / name / "templates" / "cm.yaml").write_text(template)
    return root / name


def cm(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{v: {value}}}\n"


def test_charts_render_one_after_another_in_one_worker_without_seeing_each_other(
        pool: SdkPool, tmp_path: Path) -> None:
    """Chart b includes a template only chart a defines: in one worker it still fails as in its own
    `helm template`, and a renders the same before and after."""
    include = '{{ include "shared.v" . }}'
    a = write_chart(tmp_path, "a", '{{- define "shared.v" }}from-a{{ end }}' + cm("a", include))
    b = write_chart(tmp_path, "b", cm("b", include))
    first = pool.render(template_with_sdk, (TemplateRequest(a, "r"),), 60)
    assert "v: from-a" in first
    with pytest.raises(HelmError, match=r'no template "shared\.v"'):
        pool.render(template_with_sdk, (TemplateRequest(b, "r"),), 60)
    assert pool.render(template_with_sdk, (TemplateRequest(a, "r"),), 60) == first
    assert pool.started == 1


def test_each_render_has_its_own_directory_removed_after_it(pool: SdkPool) -> None:
    """A render's working and temporary directory is new each time and gone after; HOME stays empty."""
    first, second = (pool.render(where, (), 60).split("\n") for _ in range(2))
    assert first[0] != second[0] and first[0] == first[1] and second[0] == second[1]
    assert not Path(first[0]).exists() and not Path(second[0]).exists()
    assert first[2] == second[2] == ""
    assert pool.started == 1


def test_a_render_past_its_timeout_kills_the_worker_and_the_next_gets_a_new_one(pool: SdkPool) -> None:
    worker = pool.render(pid, (), 60)
    started = time.monotonic()
    with pytest.raises(HelmError, match=r"^helm render did not finish within 1 s$"):
        pool.render(time.sleep, (60,), 1)
    assert time.monotonic() - started < 10
    assert not Path(f"/proc/{worker}").exists() or "zombie" in Path(f"/proc/{worker}/status").read_text()
    assert pool.render(pid, (), 60) not in ("", worker)


def test_a_dead_worker_is_reported_at_once_and_only_for_what_it_logged_in_that_render(pool: SdkPool) -> None:
    """An earlier render's 'out of memory' line in the worker's log does not turn a later SIGKILL into
    an out-of-memory report."""
    worker = pool.render(say_out_of_memory, (), 60)
    started = time.monotonic()
    with pytest.raises(HelmError) as died:
        pool.render(die, (), 120)
    assert str(died.value) == "helm renderer died (signal 9, SIGKILL)"
    assert time.monotonic() - started < 10
    assert pool.render(pid, (), 60) != worker


def test_a_long_lived_worker_log_does_not_grow_without_bound(pool: SdkPool) -> None:
    worker = {pool.render(noisy, (), 60) for _ in range(3)}
    [idle] = pool._idle
    assert len(worker) == 1 and idle.log.stat().st_size < 1 << 20
    with pytest.raises(HelmError, match=r"^helm renderer died \(signal 9, SIGKILL\)$"):
        pool.render(die, (), 60)


def test_every_render_gets_the_full_memory_limit_whatever_earlier_ones_left(pool: SdkPool) -> None:
    """200 MiB left mapped by one render: the next may still map 900 MiB (a cap fixed at the worker's
    start would leave it 824), but not more than RENDER_MEMORY."""
    worker = pool.render(hold, (200,), 60)
    assert pool.render(try_map, (900,), 60) == "mapped"
    assert pool.render(try_map, (RENDER_MEMORY // MIB + 64,), 60) == "refused"
    assert pool.render(pid, (), 60) == worker


def test_a_render_that_runs_out_of_memory_is_told_so_and_its_worker_replaced(pool: SdkPool) -> None:
    worker = pool.render(pid, (), 60)
    with pytest.raises(HelmError) as oom:
        pool.render(allocate, (2,), 60)
    assert str(oom.value) == (f"helm renderer ran out of memory (limit {RENDER_MEMORY / (1 << 30):g} GiB "
                              "per render); the chart asks for more")
    assert pool.render(pid, (), 60) != worker


def test_a_worker_that_grew_past_the_threshold_is_replaced(pool: SdkPool) -> None:
    worker = pool.render(hold, (helm_pool.RETIRE_GROWTH // MIB + 16,), 60)
    assert pool.render(pid, (), 60) != worker
    assert pool.started == 2


def test_a_worker_holding_a_chart_is_replaced(pool: SdkPool, tmp_path: Path) -> None:
    chart = write_chart(tmp_path, "a", cm("a", "'1'"))
    worker = pool.render(leak_chart, (str(chart),), 60)
    assert pool.render(pid, (), 60) != worker


def test_a_worker_serves_at_most_max_renders(require: Callable[[bool, str], None]) -> None:
    require(importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra (helm-python-sdk)")
    three = SdkPool(max_renders=3)
    try:
        pids = [three.render(pid, (), 60) for _ in range(7)]
    finally:
        three.shutdown()
    assert [len(set(pids[i:i + 3])) for i in (0, 3)] == [1, 1] and len(set(pids)) == 3


def test_output_over_the_limit_is_refused_in_the_worker(pool: SdkPool) -> None:
    with pytest.raises(HelmError, match=r"^helm output is larger than the 67108864 byte limit; not loaded$"):
        pool.render(big_output, (), 60)


def test_without_the_sdk_the_fallback_message_is_given_and_no_worker_is_restarted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "helm_python"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('not installed')\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    absent = SdkPool()
    try:
        for _ in range(3):
            with pytest.raises(HelmError) as e:
                absent.render(pid, (), 60)
            assert str(e.value) == NO_RENDERER
        absent.prestart()
        assert absent.started == 1
    finally:
        absent.shutdown()
