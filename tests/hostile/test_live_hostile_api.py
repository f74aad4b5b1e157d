"""A hostile or buggy API server on loopback: it pages for ever, trickles, stalls, or answers a ConfigMap LIST
with Secrets. Each time the type is `unknown` with the reason, soon, and nothing is re-labelled or printed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from driftcheck.live import cluster
from driftcheck.live.cluster import ClusterReader
from driftcheck.live.connection import RetryPolicy
from testing import planted
from testing.archive import lock_is_free

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

CONFIGMAP = ("", "ConfigMap")
FAST_RETRY = RetryPolicy(attempts=2, backoff=0.05, max_backoff=0.1, connect_deadline=2, first_contact=5)
V1 = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    {"name": "configmaps", "singularName": "configmap", "namespaced": True, "kind": "ConfigMap",
     "verbs": ["get", "list"]}]}


class HostileApi:
    """Discovery as a real server has it; LISTs of configmaps answered as `mode` says."""

    def __init__(self, mode: str, secret_value: str = "") -> None:
        self.mode, self.secret_value = mode, secret_value
        self.lists: list[str] = []
        self.stop_event = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api.answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.stop_event.set()
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "hostile",
            "clusters": [{"name": "h", "cluster": {"server": self.url}}],
            "users": [{"name": "u", "user": {"token": "hostile-api-token"}}],
            "contexts": [{"name": "hostile", "context": {"cluster": "h", "user": "u"}}]}))
        return path

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]
        documents = {"/version": {"gitVersion": "v1.30.0"}, "/api/v1": V1,
                     "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}}
        if path in documents:
            return self.send(handler, documents[path])
        if not path.endswith("/configmaps"):
            return self.send(handler, {"kind": "Status", "code": 404}, 404)
        self.lists.append(handler.path)
        empty = {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {}, "items": []}
        secret = {"metadata": {"name": "db", "namespace": "prod"}, "type": "Opaque",
                  "data": {"password": self.secret_value}}
        if self.mode == "alternating-tokens":
            empty["metadata"] = {"continue": "B" if "continue=A" in handler.path else "A"}
        elif self.mode == "fresh-tokens":
            empty["metadata"] = {"continue": f"t{len(self.lists)}"}
        elif self.mode == "secret-list":
            empty = {**empty, "kind": "SecretList", "items": [secret]}
        elif self.mode == "secret-items":
            empty["items"] = [{"kind": "Secret", "apiVersion": "v1", **secret}]
        elif self.mode == "other-namespace":
            empty["items"] = [{**secret, "metadata": {"name": "db", "namespace": "kube-system"}}]
        elif self.mode == "trickle":
            return self.trickle(handler, json.dumps(empty).encode())
        elif self.mode == "stall":
            self.stop_event.wait(120)
            return None
        return self.send(handler, empty)

    @staticmethod
    def send(handler: BaseHTTPRequestHandler, document: dict[str, Any], code: int = 200) -> None:
        body = json.dumps(document).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def trickle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        """One byte a second: every socket read gets an answer, the whole never comes in time."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body:
            if self.stop_event.wait(1):
                return
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return


@pytest.fixture
def hostile(request: pytest.FixtureRequest) -> Iterator[HostileApi]:
    api = HostileApi(request.param, planted.secret("hostile-api-secret"))
    yield api
    api.close()


def read(api: HostileApi, tmp_path: Path, timeout: float = 30.0) -> tuple[Any, float]:
    reader = ClusterReader(str(api.kubeconfig(tmp_path / "kc.yaml")), timeout=timeout, retry=FAST_RETRY)
    started = time.monotonic()
    state = reader.read({CONFIGMAP}, {"prod"})
    return state, time.monotonic() - started


@pytest.mark.parametrize("hostile", ["alternating-tokens"], indirect=True)
def test_alternating_continue_tokens_make_the_type_unknown_instead_of_looping(hostile: HostileApi,
                                                                              tmp_path: Path) -> None:
    state, took = read(hostile, tmp_path)
    assert "continue token it had already given" in state.unreadable[("", "ConfigMap", "prod")]
    assert len(hostile.lists) == 3 and took < 5, "A, B, then A again: stop there"


@pytest.mark.parametrize("hostile", ["fresh-tokens"], indirect=True)
def test_a_server_that_pages_for_ever_is_stopped_by_the_page_cap(hostile: HostileApi, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "MAX_PAGES", 7)
    state, _ = read(hostile, tmp_path)
    assert "still paging after 7 pages" in state.unreadable[("", "ConfigMap", "prod")]
    assert len(hostile.lists) == 7


@pytest.mark.parametrize("hostile", ["trickle"], indirect=True)
def test_a_list_trickling_one_byte_a_second_is_cut_off_by_the_request_deadline(hostile: HostileApi,
                                                                               tmp_path: Path) -> None:
    """Each socket read gets a byte within the timeout; the whole answer is what is bounded."""
    state, took = read(hostile, tmp_path, timeout=2)
    reason = state.unreadable[("", "ConfigMap", "prod")]
    assert "Timeout" in reason and not state.resources, reason
    assert took < 2 * cluster.LIST_DEADLINE + 3, f"the list took {took:.1f}s"


@pytest.mark.parametrize("hostile", ["fresh-tokens"], indirect=True)
def test_the_list_deadline_is_a_multiple_of_the_request_timeout(hostile: HostileApi, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages each answered at once but never ending: the LIST deadline (LIST_DEADLINE × timeout) ends it."""
    monkeypatch.setattr(cluster, "LIST_DEADLINE", 1)
    state, took = read(hostile, tmp_path, timeout=1.5)
    reason = state.unreadable[("", "ConfigMap", "prod")]
    assert "did not finish within 1 × --request-timeout (1.5s)" in reason, reason
    assert took < 4


@pytest.mark.parametrize("hostile", ["secret-list", "secret-items", "other-namespace"], indirect=True)
def test_an_answer_that_is_not_the_list_asked_for_is_unknown_never_relabelled(hostile: HostileApi,
                                                                             tmp_path: Path) -> None:
    state, _ = read(hostile, tmp_path)
    reason = state.unreadable[("", "ConfigMap", "prod")]
    assert "BadResponse" in reason and hostile.secret_value not in reason
    assert not state.resources, "no Secret comes back labelled as a ConfigMap"


@pytest.fixture
def stalled() -> Iterator[HostileApi]:
    api = HostileApi("stall")
    yield api
    api.close()


@pytest.mark.slow
def test_sigterm_ends_a_check_stuck_on_a_stalled_api_within_seconds(stalled: HostileApi, tmp_path: Path,
                                                                    git_repo: GitRepoBuilder) -> None:
    """`timeout -s TERM 20` (a CronJob's deadline) while every LIST hangs: out within 5 s of the signal,
    the archive lock free, no report and no staging directory left. (20 s, not 10: on a loaded CI machine
    the Git half alone can take seconds, and the signal must find the run inside the LIST.)"""
    git_repo.commit({"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"}, "one map")
    out = tmp_path / "out"
    started = time.monotonic()
    done = subprocess.run(
        ["timeout", "-s", "TERM", "20", sys.executable, "-m", "driftcheck.cli", "check", "--repo",
         str(git_repo.path), "--path", "app", "-n", "prod", "--kubeconfig",
         str(stalled.kubeconfig(tmp_path / "kc.yaml")), "--out", str(out), "-o", "none",
         "--request-timeout", "120"], capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert stalled.lists, "the run reached the stalled LIST"
    assert done.returncode == 124 and took < 25, (done.returncode, took, done.stderr)
    assert "Traceback" not in done.stderr
    assert lock_is_free(out)
    left = [p for p in out.rglob("*") if p.is_file() and p.name != ".driftcheck.lock"] if out.exists() else []
    assert not left, f"a killed run left {left}"
    assert not re.search(r"internal error", done.stderr)
