"""A real OCI registry on loopback for tests: Debian's `docker-registry`, plain HTTP, optional htpasswd auth.

The registry keeps its blobs in a temporary directory and listens on a free 127.0.0.1 port; `push_chart`
uploads a packaged chart with the Helm SDK, as a chart publisher would; `push_artifact` uploads a
directory as `flux push artifact` does, through the registry's HTTP API.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
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
    root: Path | None = None  # the registry's storage (a test may tamper with a blob there)

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
            yield Registry(f"127.0.0.1:{port}", username, password, root / "data")
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


FLUX_CONFIG = "application/vnd.cncf.flux.config.v1+json"
FLUX_CONTENT = "application/vnd.cncf.flux.content.v1.tar+gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def tar_gz(directory: Path) -> bytes:
    """directory as `flux push artifact` packs it: entries relative to it, no top-level directory."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    return buffer.getvalue()


def push_artifact(directory: Path | None, repository: str, tag: str, registry: Registry, *,
                  layer: bytes | None = None, source: str = "https://github.com/example/fleet",
                  revision: str = "main@sha1:0000000000000000000000000000000000000000",
                  created: str = "2026-01-02T03:04:05Z") -> str:
    """Upload directory (or the raw layer bytes) to registry's repository at tag as `flux push artifact`
    does: a Flux config blob, one tar+gzip content layer, the OCI source/revision/created annotations.
    The manifest's digest."""
    content = layer if layer is not None else tar_gz(directory) if directory else b""
    config = json.dumps({"created": created, "architecture": "", "os": "", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    descriptors = [_upload_blob(registry, repository, data) for data in (config, content)]
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": FLUX_CONFIG, **descriptors[0]},
                "layers": [{"mediaType": FLUX_CONTENT, **descriptors[1]}],
                "annotations": {"org.opencontainers.image.created": created,
                                "org.opencontainers.image.source": source,
                                "org.opencontainers.image.revision": revision}}
    body = json.dumps(manifest).encode()
    _call(registry, "PUT", f"/v2/{repository}/manifests/{tag}", body, {"Content-Type": OCI_MANIFEST})
    return "sha256:" + hashlib.sha256(body).hexdigest()


def blob_file(registry: Registry, digest: str) -> Path:
    """Where the registry's filesystem storage keeps a blob's bytes."""
    assert registry.root is not None
    hex_digest = digest.removeprefix("sha256:")
    return registry.root / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"


def _upload_blob(registry: Registry, repository: str, data: bytes) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    headers = _call(registry, "POST", f"/v2/{repository}/blobs/uploads/", b"", {})
    location = headers["Location"]
    separator = "&" if "?" in location else "?"
    _call(registry, "PUT", f"{location}{separator}digest={digest}", data,
          {"Content-Type": "application/octet-stream"})
    return {"digest": digest, "size": len(data)}


def _call(registry: Registry, method: str, path: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    url = path if path.startswith("http") else f"http://{registry.host}{path}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    if registry.username:
        token = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(response.headers.items())
