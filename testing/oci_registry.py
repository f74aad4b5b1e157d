"""A real OCI registry on loopback for tests: Debian's `docker-registry`, plain HTTP, optional htpasswd auth.

The registry keeps its blobs in a temporary directory and listens on a free 127.0.0.1 port; `push_chart`
uploads a packaged chart with the Helm SDK, as a chart publisher would.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from testing.loopback import free_port, wait_for_port

REGISTRY = "/usr/bin/docker-registry"


@dataclass(frozen=True)
class Registry:
    """A running registry: where it listens and the account it requires (empty when anonymous)."""

    host: str  # 127.0.0.1:PORT
    username: str = ""
    password: str = ""

    @property
    def url(self) -> str:
        return f"oci://{self.host}"


def _config(root: Path, port: int, htpasswd: Path | None) -> str:
    auth = (f"auth:\n  htpasswd:\n    realm: driftcheck-test\n    path: {htpasswd}\n" if htpasswd else "")
    return (f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{port}\n{auth}")


@contextlib.contextmanager
def oci_registry(username: str = "", password: str = "") -> Iterator[Registry]:
    """A docker-registry for the duration of the block; with username/password it requires them."""
    if not Path(REGISTRY).exists():
        raise RuntimeError("docker-registry is not installed (testing/prereqs.sh installs it)")
    with tempfile.TemporaryDirectory(prefix="driftcheck-registry-") as tmp:
        root = Path(tmp)
        htpasswd = None
        if username:
            if not shutil.which("htpasswd"):
                raise RuntimeError("htpasswd is missing (apache2-utils; testing/prereqs.sh installs it)")
            htpasswd = root / "htpasswd"
            # -i: the password on stdin, not in argv
            subprocess.run(["htpasswd", "-B", "-c", "-i", str(htpasswd), username], input=password.encode(),
                           check=True, capture_output=True)
        port = free_port()
        config = root / "config.yml"
        config.write_text(_config(root, port, htpasswd))
        log = (root / "registry.log").open("wb")
        server = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=log, stderr=log)
        try:
            wait_for_port(port)
            yield Registry(f"127.0.0.1:{port}", username, password)
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()


def push_chart(tgz: Path, remote: str, registry: Registry | None = None) -> None:
    """Upload a packaged chart to `remote` (oci://127.0.0.1:P/charts), logged in if the registry wants it."""
    import helm_python

    with tempfile.TemporaryDirectory(prefix="driftcheck-push-") as tmp, \
            helm_python.RegistryClient(plain_http=True, credentials_file=Path(tmp) / "auth.json") as client:
        if registry and registry.username:
            client.login(registry.host, registry.username, registry.password, plain_http=True)
        client.push(tgz, remote, plain_http=True)


def package_chart(workdir: Path, name: str, version: str, template: str = "") -> Path:
    """A chart `name` at `version` packaged into workdir (a ConfigMap naming its version unless template)."""
    import helm_python

    src = workdir / f"src-{name}-{version}" / name
    (src / "templates").mkdir(parents=True)
    (src / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\n")
    (src / "values.yaml").write_text("{}\n")
    (src / "templates" / "cm.yaml").write_text(template or (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\n"
        "data:\n  version: {{ .Chart.Version | quote }}\n"))
    out = workdir / "packages"
    out.mkdir(exist_ok=True)
    return Path(helm_python.package(src, destination=out))
