"""Credentials given to the CLI never come back out of it, whether the run succeeds or fails.

Every place a user can put one is planted at once: userinfo in `--repo` (or in driftcheck.yaml's `repo:`),
DRIFTCHECK_GIT_TOKEN, `--git-token-file`, and user:password in the `--pushgateway` URL. A loopback Git
server (dumb HTTP) and Pushgateway stand-in both demand Basic auth, so the credentials are really used.
Runs go through `planted.run_cli`: the session-end scan reads their stdout, stderr, reports and cache."""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import click
import pytest
from click.testing import CliRunner

from driftcheck import scrub
from driftcheck.cli import DriftcheckGroup
from testing import planted
from testing.loopback import free_port

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

MIRROR = "https://git.mirror.example/org/gitops.git"   # how the Applications spell the repository
USER = "x-access-token"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class AuthHandler(SimpleHTTPRequestHandler):
    """Serves a directory (a dumb-HTTP Git remote) or takes a PUT (a Pushgateway), with the right Basic auth
    only; records every Authorization header it saw."""

    expected: ClassVar[str] = ""
    seen: ClassVar[list[str]] = []

    def authorized(self) -> bool:
        self.seen.append(self.headers.get("Authorization", ""))
        if self.headers.get("Authorization") == self.expected:
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="test"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_GET(self) -> None:
        if self.authorized():
            super().do_GET()

    def do_PUT(self) -> None:
        if self.authorized():
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def serve(root: Path, expected: str) -> tuple[ThreadingHTTPServer, type[AuthHandler]]:
    handler = type("Handler", (AuthHandler,), {"expected": expected, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 lambda *a: handler(*a, directory=str(root)))  # type: ignore[misc]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


@dataclass
class Setup:
    """Everything one `check` needs, with a planted credential in every place the CLI takes one."""

    tmp: Path
    repo_url: str            # the remote, with userinfo
    token_file: Path
    env_token: str
    gateway: str             # the Pushgateway URL, with userinfo
    git_seen: list[str] = field(default_factory=list)
    gateway_seen: list[str] = field(default_factory=list)
    stop: list[ThreadingHTTPServer] = field(default_factory=list)

    def check(self, repo: str | None = None, gateway: str | None = None,
              *extra: str) -> tuple[int, str, str]:
        out = self.tmp / "out"
        args = ["check", "--argocd-apps", "argocd/*.yaml", "--live-snapshot", str(self.tmp / "live.yaml"),
                "--out", str(out), "--format", "html,json,md,junit", "--metrics-file", str(out / "m.prom"),
                "--git-token-file", str(self.token_file), "--pushgateway", gateway or self.gateway, *extra]
        if repo != "":
            args += ["--repo", repo or self.repo_url]
        proc = planted.run_cli(args, self.tmp / "logs", env={
            "DRIFTCHECK_GIT_TOKEN": self.env_token, "XDG_CACHE_HOME": str(self.tmp / "cache"),
            "HOME": str(self.tmp / "home"), "GIT_CONFIG_NOSYSTEM": "1"})
        return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def setup(git_repo: GitRepoBuilder, tmp_path: Path) -> Iterator[Setup]:
    git_repo.commit({
        "argocd/web.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\n"
                           f"spec:\n  source: {{repoURL: '{MIRROR}', path: apps/web}}\n"
                           "  destination: {namespace: web}\n",
        "apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"}, "web")
    srv = tmp_path / "srv"
    srv.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo.path), str(srv / "gitops.git")], check=True)
    subprocess.run(["git", "update-server-info"], cwd=srv / "gitops.git", check=True)
    (tmp_path / "live.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n"
                                        "metadata: {name: web, namespace: web}\n")
    url_token, env_token, file_token = (planted.secret(f"git-{how}") for how in ("url", "env", "file"))
    password = planted.secret("pushgateway")
    token_file = planted.write_input(tmp_path / "secret" / "token", file_token + "\n")
    git_server, git_handler = serve(srv, basic(USER, file_token))   # the file's token wins, as documented
    gateway, gateway_handler = serve(tmp_path, basic("metrics", password))
    yield Setup(tmp_path, f"http://{USER}:{url_token}@127.0.0.1:{git_server.server_port}/gitops.git",
                token_file, env_token, f"http://metrics:{password}@127.0.0.1:{gateway.server_port}/",
                git_handler.seen, gateway_handler.seen, [git_server, gateway])
    for server in (git_server, gateway):
        server.shutdown()
        server.server_close()


def assert_no_credential(setup: Setup, *texts: str) -> None:
    secrets = [v for v in planted.PLANTED if v.startswith(("PLANTED-git-", "PLANTED-pushgateway-"))]
    written = [p for p in (setup.tmp / "out").rglob("*") if p.is_file()]
    for value in secrets:
        assert not [t for t in texts if value in t], f"{value} printed"
        assert not [p for p in written if value.encode() in p.read_bytes()], f"{value} written"


def test_a_run_with_credentials_everywhere_prints_and_writes_none(setup: Setup) -> None:
    code, stdout, stderr = setup.check()
    assert code == 0, stderr
    assert any(a.startswith("Basic ") for a in setup.git_seen) and setup.gateway_seen[-1].startswith("Basic ")
    assert next((setup.tmp / "out").rglob("report.json"))
    [note] = [line for line in stderr.splitlines() if line.startswith("note:")]
    assert "127.0.0.1" in note and MIRROR in note, "the note names the clone (masked) and the mirror"
    assert_no_credential(setup, stdout, stderr)

    setup.stop[0].shutdown()   # the remote goes away: the cached clone is used, with a warning
    setup.stop[0].server_close()
    code, stdout, stderr = setup.check()
    assert code == 0, stderr
    assert stderr.count("using the cached clone") == 1, stderr
    assert_no_credential(setup, stdout, stderr)


@pytest.mark.parametrize("where", ["--repo", "driftcheck.yaml"])
def test_an_unreachable_remote_fails_in_one_line_without_the_credentials(setup: Setup, where: str) -> None:
    closed = setup.repo_url.replace(f":{setup.stop[0].server_port}/", f":{free_port()}/")
    extra: tuple[str, ...] = ()
    if where == "driftcheck.yaml":
        config = planted.write_input(setup.tmp / "cfg" / "driftcheck.yaml", f"repo: {closed}\n")
        extra = ("--config", str(config))
    code, stdout, stderr = setup.check("" if extra else closed, None, *extra)
    assert code == 2
    [error] = [line for line in stderr.splitlines() if line.startswith("driftcheck: error:")]
    assert "git clone http://127.0.0.1:" in error, error
    assert_no_credential(setup, stdout, stderr)


def test_an_unreachable_pushgateway_names_it_masked(setup: Setup) -> None:
    closed = setup.gateway.replace(f":{setup.stop[1].server_port}/", f":{free_port()}/")
    code, stdout, stderr = setup.check(None, closed)
    assert code == 2
    [error] = [line for line in stderr.splitlines() if line.startswith("driftcheck: error:")]
    assert "cannot push metrics to http://***@127.0.0.1:" in error and "reports were written" in error
    assert_no_credential(setup, stdout, stderr)


def test_an_internal_error_prints_its_type_and_a_scrubbed_message() -> None:
    """The last-resort handler: an exception from the connection layer quoting the token it sent."""
    token, other = planted.secret("header-token"), planted.secret("url-password")
    scrub.register(token)

    @click.group(cls=DriftcheckGroup)
    def group() -> None:
        pass

    @group.command()
    def boom() -> None:
        raise ValueError(f"Invalid header value b'Bearer {token}\\n' for https://u:{other}@api.example/\x1b[2J")

    result = CliRunner().invoke(group, ["boom"])
    assert result.exit_code == 2
    assert result.output.startswith("driftcheck: internal error: ValueError: Invalid header value")
    assert token not in result.output and other not in result.output and "\x1b" not in result.output
    assert result.output.count("\n") == 1
