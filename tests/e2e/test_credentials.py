"""Git credentials in the open: HTTPS tokens (environment, mounted file, URL userinfo) against a real
`git http-backend` that demands Basic auth on 127.0.0.1, and SSH keys against a real sshd with strict
host checking. The token must reach git and nothing else: not argv (/proc/*/cmdline, sampled while git
runs), not errors, not logs, not reports."""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from driftcheck.fetch.git import mask_url, open_repo
from driftcheck.model import DriftcheckError
from testing import planted
from testing.loopback import free_port, wait_for_port

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

TOKEN = planted.plant("ghp_S3cr3tT0kenDoNotLeak4242")   # the session-end scan looks for it in every output
planted.plant(TOKEN[::-1])                                # the wrong token the failure tests send
USER = "x-access-token"


def process_cmdlines() -> list[str]:
    """argv of every process on the machine, as `ps` would show them."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            out.append(raw.replace(b"\0", b" ").decode("utf-8", "replace"))
    return out


class GitHTTPHandler(BaseHTTPRequestHandler):
    """Smart-HTTP Git through `git http-backend` (CGI), only for requests carrying the right Basic auth.
    On every request it samples all processes' argv: git's children are alive at that moment."""

    project_root: Path
    expected_auth: str
    seen_auth: list[str]
    seen_cmdlines: list[str]

    def do_GET(self) -> None:
        self.handle_git()

    def do_POST(self) -> None:
        self.handle_git()

    def handle_git(self) -> None:
        self.seen_cmdlines.extend(process_cmdlines())
        auth = self.headers.get("Authorization", "")
        self.seen_auth.append(auth)
        if auth != self.expected_auth:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(self.project_root),
               "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": self.command, "PATH_INFO": path,
               "QUERY_STRING": query, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": USER, "REMOTE_ADDR": "127.0.0.1",
               "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
               "GIT_PROTOCOL": self.headers.get("Git-Protocol", "")}
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True,
                             check=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        headers = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
        status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
        self.send_response(status)
        for key, value in headers:
            if key.lower() != "status":
                self.send_header(key, value.strip())
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        pass


class GitServer:
    def __init__(self, handler: type[GitHTTPHandler], server: ThreadingHTTPServer) -> None:
        self.handler = handler
        self.url = f"http://127.0.0.1:{server.server_port}/k8s-manifests.git"


@pytest.fixture
def git_server(tmp_path: Path, git_repo: GitRepoBuilder) -> Iterator[GitServer]:
    """A bare repository with one manifest, served over HTTP that requires user x-access-token:TOKEN."""
    git_repo.commit({"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"}, "web")
    root = tmp_path / "srv"
    root.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo.path), str(root / "k8s-manifests.git")],
                   check=True)
    handler = type("Handler", (GitHTTPHandler,), {
        "project_root": root, "seen_auth": [], "seen_cmdlines": [],
        "expected_auth": "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield GitServer(handler, server)
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credential helper, token or SSH setting of the machine may help (or leak into) a test."""
    for name in ("DRIFTCHECK_GIT_TOKEN", "DRIFTCHECK_SSH_KEY", "DRIFTCHECK_SSH_KNOWN_HOSTS", "GIT_ASKPASS",
                 "SSH_ASKPASS", "GIT_SSH_COMMAND", "SSH_AUTH_SOCK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def assert_token_never_on_a_command_line(server: GitServer, own_argv: bool = False) -> None:
    """own_argv: the user typed the token into driftcheck's own command line (a URL with userinfo), which
    only they can avoid (hence --git-token-file); driftcheck must not pass it on to any other process."""
    assert server.handler.seen_cmdlines, "no process listing was sampled while git ran"
    assert any("git" in c and "127.0.0.1" in c for c in server.handler.seen_cmdlines), \
        "the sample should include git's own remote helper"
    leaked = [c for c in server.handler.seen_cmdlines if TOKEN in c
              and not (own_argv and "-m driftcheck.cli check" in c)]
    assert not leaked, f"token visible in a process listing: {leaked}"


def test_token_from_environment_clones_and_stays_off_argv(git_server: GitServer, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTCHECK_GIT_TOKEN", TOKEN)
    repo = open_repo(git_server.url, cache_dir=tmp_path / "c")
    assert repo.head.commit.tree / "apps/web/cm.yaml"
    assert git_server.handler.expected_auth in git_server.handler.seen_auth, "token sent as Basic auth"
    assert_token_never_on_a_command_line(git_server)
    assert TOKEN not in (Path(repo.git_dir) / "config").read_text()
    assert not any(TOKEN.encode() in p.read_bytes() for p in (tmp_path / "c").rglob("*") if p.is_file()), \
        "the token is not stored in the cached clone"


def test_token_in_url_userinfo_is_used_and_shown_masked(git_server: GitServer, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    url = git_server.url.replace("http://", f"http://{USER}:{TOKEN}@")
    assert mask_url(url) == git_server.url.replace("http://", "http://***@")
    caplog.set_level(logging.DEBUG)
    repo = open_repo(url, cache_dir=tmp_path / "c")
    assert repo.head.commit.hexsha
    assert_token_never_on_a_command_line(git_server)
    assert TOKEN not in caplog.text
    assert TOKEN not in (Path(repo.git_dir) / "config").read_text()


def test_wrong_or_missing_token_fails_in_one_line_without_the_token(git_server: GitServer,
                                                                    tmp_path: Path) -> None:
    wrong = TOKEN[::-1]
    for kwargs in ({"token": wrong}, {}):
        started = time.monotonic()
        with pytest.raises(DriftcheckError) as failure:
            open_repo(git_server.url, cache_dir=tmp_path / "c", **kwargs)
        assert time.monotonic() - started < 30, "a missing credential must not wait for a prompt"
        message = str(failure.value)
        assert "\n" not in message and git_server.url in message
        assert wrong not in message and TOKEN not in message
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("HEAD")), "no half clone is cached"
    url = git_server.url.replace("http://", f"http://{USER}:{wrong}@")
    with pytest.raises(DriftcheckError) as failure:
        open_repo(url, cache_dir=tmp_path / "c")
    assert wrong not in str(failure.value) and f"{USER}:" not in str(failure.value)


# --- SSH: a real sshd on 127.0.0.1, keys made for the test -------------------------------------------------

@pytest.fixture
def sshd(tmp_path: Path, git_repo: GitRepoBuilder,
         require: Callable[[bool, str], None]) -> Iterator[dict[str, object]]:
    """sshd on a loopback port, accepting one client key, serving a bare repository."""
    sshd_bin = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    require(sshd_bin is not None and os.geteuid() == 0,
            "needs openssh-server (sshd) and root to run it on a loopback port")
    assert sshd_bin is not None
    git_repo.commit({"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"}, "web")
    ssh_dir = tmp_path / "ssh"
    ssh_dir.mkdir(mode=0o700)
    for name in ("host", "client", "impostor"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh_dir / name)], check=True)
    bare = tmp_path / "srv" / "k8s-manifests.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo.path), str(bare)], check=True)
    authorized = ssh_dir / "authorized_keys"
    authorized.write_text((ssh_dir / "client.pub").read_text())
    authorized.chmod(0o600)
    port = free_port()
    config = ssh_dir / "sshd_config"
    config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {ssh_dir / 'host'}
AuthorizedKeysFile {authorized}
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile {ssh_dir / 'sshd.pid'}
""")
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    wait_for_port(port, timeout=15)
    host_pub = (ssh_dir / "host.pub").read_text().split()
    known = ssh_dir / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    wrong_known = ssh_dir / "known_hosts.wrong"
    impostor = (ssh_dir / "impostor.pub").read_text().split()
    wrong_known.write_text(f"[127.0.0.1]:{port} {impostor[0]} {impostor[1]}\n")
    yield {"url": f"ssh://root@127.0.0.1:{port}{bare}", "key": ssh_dir / "client", "known": known,
           "wrong_known": wrong_known}
    proc.terminate()
    proc.wait(timeout=10)


def test_ssh_key_with_pinned_host_key_clones(sshd: dict[str, object], tmp_path: Path) -> None:
    repo = open_repo(str(sshd["url"]), cache_dir=tmp_path / "c", ssh_key=str(sshd["key"]),
                     known_hosts=str(sshd["known"]))
    assert repo.head.commit.tree / "apps/web/cm.yaml"


@pytest.mark.parametrize("known", ["wrong_known", None])
def test_ssh_refuses_an_unknown_or_changed_host_key(sshd: dict[str, object], tmp_path: Path,
                                                     known: str | None) -> None:
    """Strict host checking: a host key not pinned (or a different one) fails at once, never trusted."""
    started = time.monotonic()
    with pytest.raises(DriftcheckError) as failure:
        open_repo(str(sshd["url"]), cache_dir=tmp_path / "c", ssh_key=str(sshd["key"]),
                  known_hosts=str(sshd[known]) if known else None)
    assert time.monotonic() - started < 30
    assert "Host key verification failed" in str(failure.value)
    assert not (Path(os.environ["HOME"]) / ".ssh" / "known_hosts").exists(), "nothing learned on first use"


def test_ssh_key_from_environment(sshd: dict[str, object], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The deploy manifests pass the mounted key and known_hosts through DRIFTCHECK_SSH_KEY/_KNOWN_HOSTS."""
    monkeypatch.setenv("DRIFTCHECK_SSH_KEY", str(sshd["key"]))
    monkeypatch.setenv("DRIFTCHECK_SSH_KNOWN_HOSTS", str(sshd["known"]))
    repo = open_repo(str(sshd["url"]), cache_dir=tmp_path / "c")
    assert repo.head.commit.hexsha


# --- the whole run: `driftcheck check` against the authenticated remote -------------------------------------

def check(url: str, tmp_path: Path, *extra: str, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    live = tmp_path / "live.json"
    live.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "web"}}]}))
    out = tmp_path / "out"
    args = ["check", "--repo", url, "--path", "apps/web", "-n", "web", "--live-snapshot", str(live),
            "--out", str(out), "--format", "html,json,md,junit", "--metrics-file", str(out / "metrics.prom"),
            *extra]
    return planted.run_cli(args, tmp_path / "logs", env=env)


def assert_token_nowhere(proc: subprocess.CompletedProcess[str], tmp_path: Path) -> None:
    assert TOKEN not in proc.stdout and TOKEN not in proc.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "report.json" for p in written)
    leaked = [p for p in written if TOKEN.encode() in p.read_bytes()]
    assert not leaked, f"token written to {leaked}"


def test_check_with_a_mounted_token_file(git_server: GitServer, tmp_path: Path) -> None:
    """The CronJob's way: the Secret mounted as a file, --git-token-file pointing at it."""
    token_file = tmp_path / "secret" / "token"
    token_file.parent.mkdir()
    token_file.write_text(TOKEN + "\n")
    proc = check(git_server.url, tmp_path, "--git-token-file", str(token_file))
    assert proc.returncode == 0, proc.stderr
    assert git_server.handler.expected_auth in git_server.handler.seen_auth
    assert_token_never_on_a_command_line(git_server)
    token_file.unlink()  # the secret itself is the one file allowed to hold it
    assert_token_nowhere(proc, tmp_path)


def test_check_with_userinfo_in_the_url_reports_it_masked(git_server: GitServer, tmp_path: Path) -> None:
    url = git_server.url.replace("http://", f"http://{USER}:{TOKEN}@")
    proc = check(url, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_token_never_on_a_command_line(git_server, own_argv=True)
    assert_token_nowhere(proc, tmp_path)
    masked = git_server.url.replace("http://", "http://***@")
    report = json.loads(next((tmp_path / "out").rglob("report.json")).read_text())
    assert report["source"]["repo"] == masked
    assert masked in proc.stderr, "progress shows which repository, masked"


def test_check_with_a_wrong_token_fails_in_one_line(git_server: GitServer, tmp_path: Path) -> None:
    wrong = TOKEN[::-1]
    proc = check(git_server.url, tmp_path, env={"DRIFTCHECK_GIT_TOKEN": wrong})
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("driftcheck: error:")]
    assert len(errors) == 1 and git_server.url in errors[0]
    assert wrong not in proc.stderr and "Traceback" not in proc.stderr
