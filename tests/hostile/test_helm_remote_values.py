"""A values file URL from Git is fetched by the auditor (ArgoCD lets Helm fetch it), so it is input from
whoever runs that server: a redirect off http(s) is refused, a huge body is cut at the size limit, a
server that never answers costs the timeout, and each is one app error naming the URL."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftcheck.render import helm_values
from driftcheck.render.helm_run import HelmError
from driftcheck.render.helm_values import ResolvedFile, download


class Hostile(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1/etc/passwd")  # urllib would follow ftp://
            self.end_headers()
        elif self.path == "/huge":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 4096)
        else:
            time.sleep(3)  # slower than the timeout

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def fetch(url: str, tmp_path: Path, timeout: float = 5) -> Path:
    return download(ResolvedFile(url, url=url), tmp_path / "v.yaml", timeout, offline=False)


def test_a_redirect_off_http_is_refused(server: str, tmp_path: Path) -> None:
    with pytest.raises(HelmError, match=r"/redirect could not be downloaded: redirect to "
                                        "ftp://127.0.0.1/etc/passwd refused"):
        fetch(f"{server}/redirect", tmp_path)
    assert not (tmp_path / "v.yaml").exists()


def test_a_body_over_the_limit_is_not_read(server: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helm_values, "MAX_FILE_BYTES", 1024)
    with pytest.raises(HelmError, match="/huge is larger than the 1024 byte limit"):
        fetch(f"{server}/huge", tmp_path)


def test_a_server_that_never_answers_costs_the_timeout_only(server: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(HelmError, match="/slow could not be downloaded"):
        fetch(f"{server}/slow", tmp_path, timeout=0.5)
    assert time.monotonic() - started < 2.5
