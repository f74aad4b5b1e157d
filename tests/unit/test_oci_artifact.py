"""An OCIRepository's reference and layer chosen as source-controller chooses them, and a layer unpacked
with no way out."""

from __future__ import annotations

import base64
import http.server
import io
import tarfile
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from driftcheck.fetch.archive import ArchiveError, extract_layer
from driftcheck.fetch.oci_artifact import (
    CHART_LAYER,
    LayerSelector,
    OciArtifactError,
    OciRef,
    choose_reference,
    platform_child,
    select_layer,
)
from driftcheck.fetch.oci_http import RegistryClient, RegistryError, plain_http_host
from driftcheck.fetch.repo_credentials import RepoCredential

DIGEST = "sha256:" + "ab" * 32
TAGS = ["latest", "v1.0.0", "1.2.0", "1.10.0-rc.1", "2.0.0", "not-a-version", "1.3.0-beta.01"]


def test_digest_wins_over_semver_and_tag() -> None:
    assert choose_reference(OciRef(tag="1.0.0", semver="*", digest=DIGEST), None) == DIGEST


def test_semver_wins_over_tag_and_picks_the_highest_in_range() -> None:
    assert choose_reference(OciRef(tag="2.0.0", semver=">=1.0.0 <2.0.0"), TAGS) == "1.2.0"
    assert choose_reference(OciRef(semver="1.x"), ["v1.0.0", "v1.4.0"]) == "v1.4.0"  # the tag as written


def test_semver_filter_narrows_the_tags_first() -> None:
    assert choose_reference(OciRef(semver=">=1.0.0-0", semver_filter=r".*-rc\..*"), TAGS) == "1.10.0-rc.1"


def test_tag_else_latest() -> None:
    assert choose_reference(OciRef(tag="stable"), None) == "stable"
    assert choose_reference(OciRef(), None) == "latest"


def test_a_chart_layer_reads_underscore_as_plus() -> None:
    assert choose_reference(OciRef(semver="1.x"), ["1.0.0_build.1"], CHART_LAYER) == "1.0.0_build.1"
    with pytest.raises(OciArtifactError, match="no tag matches"):
        choose_reference(OciRef(semver="1.x"), ["1.0.0_build.1"])


def test_bad_references_are_named() -> None:
    with pytest.raises(OciArtifactError, match=r"no tag matches semver >=3\.0\.0"):
        choose_reference(OciRef(semver=">=3.0.0"), TAGS)
    with pytest.raises(OciArtifactError, match="not sha256"):
        choose_reference(OciRef(digest="sha256:beef"), None)
    with pytest.raises(OciArtifactError, match="semverFilter"):
        choose_reference(OciRef(semver="*", semver_filter="("), TAGS)


MANIFEST = {"layers": [{"mediaType": "application/vnd.cncf.flux.content.v1.tar+gzip", "digest": "sha256:1"},
                       {"mediaType": CHART_LAYER, "digest": "sha256:2"}]}


def test_the_first_layer_unless_a_media_type_is_selected() -> None:
    assert select_layer(MANIFEST, LayerSelector())["digest"] == "sha256:1"
    assert select_layer(MANIFEST, LayerSelector(CHART_LAYER, "copy"))["digest"] == "sha256:2"
    with pytest.raises(OciArtifactError, match="no layer with media type 'x/y'"):
        select_layer(MANIFEST, LayerSelector("x/y"))
    with pytest.raises(OciArtifactError, match="no layers"):
        select_layer({"layers": []}, LayerSelector())


def test_an_index_gives_its_linux_amd64_child() -> None:
    index = {"manifests": [{"digest": "arm", "platform": {"os": "linux", "architecture": "arm64"}},
                           {"digest": "amd", "platform": {"os": "linux", "architecture": "amd64"}}]}
    assert platform_child(index)["digest"] == "amd"
    assert platform_child({"manifests": [{"digest": "bare"}]})["digest"] == "bare"
    with pytest.raises(OciArtifactError, match="linux/amd64"):
        platform_child({"manifests": [index["manifests"][0]]})


def test_urls_and_plain_http() -> None:
    assert RegistryClient("oci://127.0.0.1:5000/fleet/app", None, 1).base == "http://127.0.0.1:5000/v2/fleet/app"
    assert RegistryClient("oci://ghcr.io/org/app", None, 1).base == "https://ghcr.io/v2/org/app"
    assert RegistryClient("oci://ghcr.io/org/app", None, 1, insecure=True).base.startswith("http://")
    assert plain_http_host("localhost:5000") and plain_http_host("10.1.2.3")
    assert not plain_http_host("ghcr.io")
    for bad in ("https://ghcr.io/org/app", "oci://ghcr.io/org/app:1.0", "oci://ghcr.io/"):
        with pytest.raises(RegistryError):
            RegistryClient(bad, None, 1)


def layer(tmp_path: Path, entries: list[tuple[str, bytes | None, str]]) -> Path:
    path = tmp_path / "layer.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data, link in entries:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            else:
                info.size = len(data or b"")
                tar.addfile(info, io.BytesIO(data or b""))
    return path


def test_a_layer_unpacks_with_its_symlinks_skipped(tmp_path: Path) -> None:
    archive = layer(tmp_path, [("app/cm.yaml", b"kind: ConfigMap\n", ""), ("app/out", None, "/etc/passwd")])
    assert extract_layer(archive, tmp_path / "out", name="layer") == 1
    assert (tmp_path / "out/app/cm.yaml").read_bytes() == b"kind: ConfigMap\n"
    assert not (tmp_path / "out/app/out").exists()


@pytest.mark.parametrize("name", ["../evil.yaml", "app/../../evil.yaml", "/etc/evil.yaml"])
def test_a_layer_that_leads_out_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ArchiveError, match="archive refused"):
        extract_layer(layer(tmp_path, [(name, b"x", "")]), tmp_path / "out", name="layer")
    assert not (tmp_path / "evil.yaml").exists()


def test_a_layer_past_the_caps_is_refused(tmp_path: Path) -> None:
    archive = layer(tmp_path, [(f"f{i}.yaml", b"x" * 10, "") for i in range(5)])
    with pytest.raises(ArchiveError, match="more than 3 entries"):
        extract_layer(archive, tmp_path / "a", name="layer", max_files=3)
    with pytest.raises(ArchiveError, match="more than 20 bytes"):
        extract_layer(archive, tmp_path / "b", name="layer", max_bytes=20)


class _BearerRegistry(http.server.BaseHTTPRequestHandler):
    """A registry that answers 401 with a Bearer challenge; its token service wants Basic u:p."""

    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.seen.append((self.path, auth))
        if self.path.startswith("/token?"):
            ok = auth == "Basic " + base64.b64encode(b"u:p").decode()
            self._answer(200 if ok else 401, b'{"token": "tok-123"}' if ok else b"{}")
        elif auth != "Bearer tok-123":
            realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
            challenge = f'Bearer realm="{realm}",service="reg",scope="repository:fleet/app:pull"'
            self._answer(401, b"{}", {"WWW-Authenticate": challenge})
        else:
            self._answer(200, b'{"tags": ["1.0.0", "1.1.0"]}')

    def _answer(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_bearer_challenge_gets_a_token_with_the_credential() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BearerRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"oci://127.0.0.1:{server.server_address[1]}/fleet/app"
    try:
        credential = RepoCredential(url=url, username="u", password="p", source="creds.yaml:1")
        assert RegistryClient(url, credential, 5).tags() == ["1.0.0", "1.1.0"]
        token_request = next(p for p, _ in _BearerRegistry.seen if p.startswith("/token?"))
        assert "service=reg" in token_request and "scope=repository%3Afleet%2Fapp%3Apull" in token_request
        with pytest.raises(RegistryError, match=r"/token\?.*HTTP 401 \(unauthorized\): the token service "
                                                r"refused the credentials of creds.yaml:1") as caught:
            wrong = RepoCredential(url=url, username="u", password="wrong", source="creds.yaml:1")
            RegistryClient(url, wrong, 5).tags()
        assert "wrong" not in str(caught.value)
    finally:
        server.shutdown()
        server.server_close()
