"""A real Helm chart repository on loopback for tests: charts packaged and indexed with the Helm SDK,
served by Python's http.server, with optional basic auth and a log of every request (to count downloads).

    with chart_repo(tmp_path) as repo:
        repo.add("demo", "1.2.3")
        ChartFetcher(...).fetch(repo.url, "demo", "1.2.3")
        assert repo.downloads() == 1
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TEMPLATE = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\n"
                    "data:\n  version: {{ .Chart.Version | quote }}\n"
                    "  greeting: {{ .Values.greeting | quote }}\n")


def make_chart(workdir: Path, name: str, version: str, templates: Mapping[str, str] | None = None,
               values: str = "greeting: hello\n", chart_yaml: str = "") -> Path:
    """A chart's source directory (Chart.yaml, values.yaml, templates/) under workdir; its path."""
    src = workdir / f"src-{name}-{version}" / name
    (src / "templates").mkdir(parents=True)
    (src / "Chart.yaml").write_text(chart_yaml or f"apiVersion: v2\nname: {name}\nversion: {version}\n")
    (src / "values.yaml").write_text(values)
    for file, text in (templates or {"cm.yaml": DEFAULT_TEMPLATE}).items():
        (src / "templates" / file).write_text(text)
    return src


def package(src: Path, destination: Path) -> Path:
    """`helm package` of src into destination (the Helm SDK, as a chart publisher runs it)."""
    import helm_python

    destination.mkdir(parents=True, exist_ok=True)
    return Path(helm_python.package(src, destination=destination))


@dataclass
class Request:
    path: str
    authorization: str  # the Authorization header as received ("" when none)


@dataclass
class ChartRepo:
    """A served directory: `url` is its root; `requests` lists what was asked, in order."""

    directory: Path
    url: str
    requests: list[Request] = field(default_factory=list)
    delay: float = 0.0  # seconds each archive download waits before answering (to overlap two runs)
    redirects: dict[str, str] = field(default_factory=dict)  # request path -> the Location of a 302

    def add(self, name: str, version: str, *, base_url: str | None = None, **chart: Any) -> Path:
        """Package a chart (see make_chart) into the repository and index it again; the archive's path."""
        src = make_chart(self.directory.parent / "chart-sources", name, version, **chart)
        archive = package(src, self.directory)
        self.index(base_url)
        return archive

    def add_archive(self, archive: Path, name: str, version: str, url: str = "") -> None:
        """Serve an archive made by hand (a hostile one, which `helm repo index` would not index) under an
        index entry written here: its sha256, and url (default: the archive's name, relative)."""
        (self.directory / archive.name).write_bytes(archive.read_bytes())
        path = self.directory / "index.yaml"
        index = yaml.safe_load(path.read_text()) if path.exists() else {"apiVersion": "v1", "entries": {}}
        index["entries"].setdefault(name, []).insert(0, {
            "name": name, "version": version, "urls": [url or archive.name],
            "digest": hashlib.sha256(archive.read_bytes()).hexdigest()})
        path.write_text(yaml.safe_dump(index))

    def index(self, base_url: str | None = None) -> None:
        """`helm repo index` over the directory; base_url makes the entries' URLs absolute."""
        import helm_python

        helm_python.repo_index_generate(self.directory, base_url=base_url)

    def downloads(self) -> int:
        """How many chart archives were requested."""
        return sum(1 for r in self.requests if r.path.endswith(".tgz"))


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class _Handler(SimpleHTTPRequestHandler):
    repo: ChartRepo
    expected: str  # the Authorization value that is let in; "" = anonymous
    lock: threading.Lock

    def do_GET(self) -> None:
        given = self.headers.get("Authorization", "")
        with self.lock:
            self.repo.requests.append(Request(self.path, given))
        if self.expected and given != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="charts"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path in self.repo.redirects:
            self.send_response(302)
            self.send_header("Location", self.repo.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.endswith(".tgz") and self.repo.delay:
            time.sleep(self.repo.delay)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the request log is kept above
        pass


@contextlib.contextmanager
def chart_repo(root: Path, username: str = "", password: str = "") -> Iterator[ChartRepo]:
    """A chart repository served from root/repo on a free 127.0.0.1 port for the block's duration;
    with username/password it answers 401 to any request without them."""
    directory = root / "repo"
    directory.mkdir(parents=True, exist_ok=True)
    repo = ChartRepo(directory, "")
    handler = type("Handler", (_Handler,), {"repo": repo, "lock": threading.Lock(),
                                             "expected": basic(username, password) if username else ""})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(directory)))
    server.daemon_threads = True
    repo.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield repo
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
