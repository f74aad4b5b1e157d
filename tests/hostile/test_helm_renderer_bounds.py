"""A Helm chart cannot take the audit down with it: a template asking for gigabytes is stopped by the
renderer's memory cap, output over the load limit is refused where it is made, and a renderer that dies
is reported as dead at once, not as a timeout after the whole timeout. The other apps still render."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftcheck.render.helm_run import GO_RESERVATION, RENDER_MEMORY
from tests.conftest import GitRepoBuilder


def chart(name: str, template: str) -> dict[str, str]:
    return {f"{name}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n",
            f"{name}/templates/cm.yaml": template}


def config_map(name: str, data: str = "{a: '1'}") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: demo}}\ndata: {data}\n"


GOOD = {**chart("good", config_map("good")), "plain/cm.yaml": config_map("plain")}
LIVE = {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "demo"},
     "data": {"a": "1"}} for name in ("good", "plain")]}


def apps(*names: str) -> str:
    return "apps:\n" + "".join(f"  - {{name: {n}, path: {n}, namespace: demo}}\n" for n in names)


def check_args(repo: GitRepoBuilder, tmp_path: Path, *extra: str,
               live_names: tuple[str, ...] = ()) -> list[str]:
    live = tmp_path / "live.json"
    live.write_text(json.dumps({**LIVE, "items": [*LIVE["items"], *(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "demo"},
         "data": {"a": "1"}} for name in live_names)]}))
    return [sys.executable, "-m", "driftcheck.cli", "check", "--repo", str(repo.path), "--live-snapshot",
            str(live), "--out", str(tmp_path / "out"), "--format", "json", "-o", "none", *extra]


def report(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads(next((tmp_path / "out").rglob("report.json")).read_text()))


def assert_others_in_sync(data: dict[str, Any]) -> None:
    assert {(r["app"], r["status"]) for r in data["resources"]} == {("good", "in-sync"), ("plain", "in-sync")}


@pytest.fixture
def helm_sdk(require: Callable[[bool, str], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK path: the Helm SDK installed and no helm binary on PATH."""
    require(importlib.util.find_spec("helm_python") is not None, "needs the [helm] extra (helm-python-sdk)")
    monkeypatch.setenv("PATH", os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                                               if not (Path(d) / "helm").exists()))


@pytest.mark.slow
def test_memory_bomb_and_oversized_output_are_app_errors_naming_the_limit(
        git_repo: GitRepoBuilder, tmp_path: Path, helm_sdk: None) -> None:
    """150 bytes asking for 400 MB (and far more while Helm quotes it) hit the memory cap; 70 MB of
    output is refused in the renderer; the next charts render in fresh children."""
    git_repo.commit({**GOOD, **chart("bomb", config_map("m", '{big: {{ repeat 400000000 "x" | quote }}}')),
                     **chart("big", config_map("m", '{big: {{ repeat 70000000 "x" | quote }}}')),
                     "driftcheck.yaml": apps("bomb", "big", "good", "plain")}, "hostile charts")
    started = time.monotonic()
    proc = subprocess.run(check_args(git_repo, tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "goroutine" not in proc.stderr, "the Go runtime's dying words stay in the child's log"
    assert time.monotonic() - started < 120
    errors = {e["app"]: e["message"] for e in report(tmp_path)["errors"]}
    assert set(errors) == {"bomb", "big"}, errors
    assert "ran out of memory" in errors["bomb"] and f"{RENDER_MEMORY / (1 << 30):g} GiB" in errors["bomb"]
    assert errors["big"] == "helm output is larger than the 67108864 byte limit; not loaded"
    assert_others_in_sync(report(tmp_path))


def test_killed_helm_renderer_is_reported_as_died_at_once(git_repo: GitRepoBuilder, tmp_path: Path,
                                                          helm_sdk: None) -> None:
    """The SDK child of a chart that loops is killed (as the OOM killer would): the run reports the death
    within seconds, not after the 120 s render timeout."""
    loop = "{{- range until 20000 }}{{- range until 20000 }}{{- end }}{{- end }}\n" + config_map("loop")
    git_repo.commit({**GOOD, **chart("loop", loop), "driftcheck.yaml": apps("loop", "good", "plain")}, "loop")
    started = time.monotonic()
    run = subprocess.Popen(check_args(git_repo, tmp_path, "--render-timeout", "120"), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        child = renderer_child(run.pid, deadline=started + 60)
        time.sleep(1)  # well inside the render
        os.kill(child, signal.SIGKILL)
        _, stderr = run.communicate(timeout=60)
    finally:
        run.kill()
        run.wait()
    assert time.monotonic() - started < 60
    assert run.returncode == 2 and "Traceback" not in stderr, stderr
    [error] = report(tmp_path)["errors"]
    assert error["app"] == "loop" and error["message"] == "helm renderer died (signal 9, SIGKILL)"
    assert_others_in_sync(report(tmp_path))



def test_a_chart_past_the_render_timeout_is_an_error_and_the_charts_after_it_render(
        git_repo: GitRepoBuilder, tmp_path: Path, helm_sdk: None) -> None:
    """The SDK worker rendering a chart that loops is killed at the render timeout; the chart after it
    renders in a new worker, within the same run."""
    loop = "{{- range until 100000 }}{{- range until 100000 }}{{- end }}{{- end }}\n" + config_map("loop")
    git_repo.commit({**GOOD, **chart("loop", loop), **chart("after", config_map("after")),
                     "driftcheck.yaml": apps("good", "loop", "after", "plain")}, "loop between good charts")
    started = time.monotonic()
    proc = subprocess.run(check_args(git_repo, tmp_path, "--render-timeout", "8", live_names=("after",)),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert time.monotonic() - started < 90
    errors = {e["app"]: e["message"] for e in report(tmp_path)["errors"]}
    assert errors == {"loop": "helm render did not finish within 8 s"}
    statuses = {(r["app"], r["status"]) for r in report(tmp_path)["resources"]}
    assert statuses == {("good", "in-sync"), ("after", "in-sync"), ("plain", "in-sync")}


def test_a_chart_does_not_see_the_templates_of_a_chart_rendered_before_it(
        git_repo: GitRepoBuilder, tmp_path: Path, helm_sdk: None) -> None:
    """Both charts render in the same worker; `mine` includes a template only `good` defines, so it fails
    as `helm template mine` would, and good is unaffected."""
    shared = '{{- define "shared.data" }}{a: "1"}{{ end }}'
    git_repo.commit({**chart("good", shared + config_map("good", '{{ include "shared.data" . }}')),
                     "plain/cm.yaml": config_map("plain"),
                     **chart("mine", config_map("mine", '{{ include "shared.data" . }}')),
                     "driftcheck.yaml": apps("good", "mine", "plain")}, "a template defined in another chart")
    proc = subprocess.run(check_args(git_repo, tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    [error] = report(tmp_path)["errors"]
    assert error["app"] == "mine" and 'no template "shared.data"' in error["message"], error
    assert_others_in_sync(report(tmp_path))


def renderer_child(parent: int, deadline: float) -> int:
    """The pid of parent's multiprocessing spawn child (not its resource tracker)."""
    while time.monotonic() < deadline:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == parent and b"spawn_main" in cmdline:
                return int(pid)
        time.sleep(0.1)
    raise AssertionError("the Helm renderer child never started")


FAKE_HELM = """#!/bin/sh
# a helm binary: chart "dies" is killed mid-render, any other chart prints its address-space limit
case "$2" in  # ArgoCD's order: template <chart> --name-template <release>
  */dies) kill -9 $$ ;;
esac
printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: good, namespace: demo}\\n'
printf 'data: {a: "1", limit: "%s"}\\n' "$(ulimit -v)"
"""


def test_helm_binary_is_memory_capped_and_its_death_reported(git_repo: GitRepoBuilder,
                                                            tmp_path: Path) -> None:
    """`helm template` on PATH gets the same address-space cap, and a killed helm is a death, not a
    failure or a timeout."""
    fake = tmp_path / "bin" / "helm"
    fake.parent.mkdir()
    fake.write_text(FAKE_HELM)
    fake.chmod(0o755)
    git_repo.commit({**GOOD, **chart("dies", config_map("dies")),
                     "driftcheck.yaml": apps("dies", "good", "plain")}, "charts")
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.monotonic()
    out = tmp_path / "rendered"
    proc = subprocess.run([sys.executable, "-m", "driftcheck.cli", "render", "--repo", str(git_repo.path),
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert time.monotonic() - started < 60
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "app dies, dies/Chart.yaml: helm renderer died (signal 9, SIGKILL)" in proc.stderr
    [good] = out.rglob("ConfigMap.good.yaml")
    assert f"limit: '{(GO_RESERVATION + RENDER_MEMORY) // 1024}'" in good.read_text()
    assert list(out.rglob("ConfigMap.plain.yaml"))
