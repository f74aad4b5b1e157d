"""A Kustomize app renders from the repository alone: nothing Git holds can make the build fetch from the
network or read outside the repository — not the Application's kustomize options, not a kustomization
driftcheck cannot parse, not any remote form kustomize accepts. The build is refused with file:line, and
a loopback server and a stand-in `git` prove nothing was even tried."""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from driftcheck.apps.argocd import app_source
from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.tree import CommitTree
from driftcheck.model import App, DefinedBy, Destination
from driftcheck.render import Rendered, render_app
from tests.conftest import GitRepoBuilder

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: local}\ndata: {a: b}\n"
LOCAL = {"app/kustomization.yaml": "resources: [cm.yaml]\n", "app/cm.yaml": CM}


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        body = CM.replace("a: b", "a: fetched").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server serving a ConfigMap at any path, and the paths it was asked for."""
    _Recorder.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", _Recorder.requests
    server.shutdown()
    server.server_close()


@pytest.fixture
def git_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `git` first on PATH that records every call reaching for a remote (kustomize clones remote bases
    with `git init`, `remote add`, `fetch`), then does what the real one does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "git-calls"
    real = shutil.which("git")
    (bin_dir / "git").write_text("#!/bin/sh\ncase \"$1\" in fetch|clone|remote|ls-remote)\n"
                                 f"  echo \"$@\" >> {log};; esac\nexec {real} \"$@\"\n")
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return log


def render(repo: GitRepoBuilder, path: str = "app", **options: object) -> Rendered:
    r = open_repo(str(repo.path))
    app = App("web", (app_source({"path": path, "kustomize": options}),), Destination(namespace="demo"),
              defined_by=DefinedBy("argocd-application", "argocd/web.yaml", 4))
    return render_app(CommitTree(r, resolve_commit(r)), app)


def test_argocd_patch_from_a_url_is_refused_and_never_fetched(git_repo: GitRepoBuilder,
                                                               web: tuple[str, list[str]]) -> None:
    url, requests = web
    git_repo.commit(LOCAL, "local app")
    out = render(git_repo, patches=[{"path": f"{url}/patch.yaml"}])
    assert out.resources == [] and requests == []
    [error] = out.errors
    assert (error.app, error.file, error.line) == ("web", "argocd/web.yaml", 4), "the Application's line"
    assert error.message.startswith("spec.source.kustomize.patches[].path")
    assert "is a remote reference" in error.message and "not built" in error.message


def test_argocd_component_outside_the_repository_is_refused(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text("apiVersion: kustomize.config.k8s.io/v1alpha1\n"
                                                "kind: Component\nnamePrefix: outside-\n")
    git_repo.commit(LOCAL, "local app")
    out = render(git_repo, components=[os.path.relpath(outside, git_repo.path / "app")])
    assert out.resources == []
    relative = os.path.relpath(outside, git_repo.path / "app")
    assert [(e.file, e.message.split(";")[0]) for e in out.errors] == [
        ("argocd/web.yaml", f"spec.source.kustomize.components {relative!r} reaches outside the repository")]


def test_local_argocd_components_and_patches_still_apply(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({**LOCAL, "comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\n"
                     "kind: Component\ncommonLabels: {from: component}\n",
                     "app/patch.yaml": CM.replace("a: b", "a: patched")}, "component and patch")
    out = render(git_repo, components=["../comp"], patches=[{"path": "patch.yaml"}])
    assert out.errors == []
    [cm] = out.resources
    assert cm.body["data"] == {"a": "patched"} and cm.body["metadata"]["labels"] == {"from": "component"}


@pytest.mark.parametrize("second", ["{url}/cm.yaml", "../../../../outside"])
def test_a_kustomization_driftcheck_cannot_parse_is_never_built(
        git_repo: GitRepoBuilder, web: tuple[str, list[str]], second: str) -> None:
    """kustomize takes the last of two `resources:` keys; the check cannot see past the duplicate."""
    url, requests = web
    git_repo.commit({"app/kustomization.yaml": f"resources: []\nresources:\n- {second.format(url=url)}\n"},
                    "duplicate key")
    out = render(git_repo)
    assert out.resources == [] and requests == []
    [error] = out.errors
    assert (error.file, error.line) == ("app/kustomization.yaml", 2)
    assert "does not parse, so it is not built" in error.message and "duplicate" in error.message


REMOTE_FORMS = ["github.com:org/repo", "deploy@127.0.0.1:org/repo", "git::git@127.0.0.1:org/repo",
                "https://github.com/org/repo//base?ref=v1", "ssh://git@127.0.0.1/org/repo", "gh:org/repo",
                "file:///srv/git/repo.git", "github.com/org/repo/base", "127.0.0.1/org/repo.git?ref=main",
                "dev.azure.com/org/project/_git/repo", "127.0.0.1:org/repo"]


@pytest.mark.parametrize("ref", REMOTE_FORMS)
def test_every_remote_form_kustomize_accepts_is_refused_before_git_runs(git_repo: GitRepoBuilder,
                                                                        git_calls: Path, ref: str) -> None:
    git_repo.commit({"app/kustomization.yaml": f"resources:\n- cm.yaml\n- {ref}\n", "app/cm.yaml": CM},
                    "remote base")
    out = render(git_repo)
    assert out.resources == [] and not git_calls.exists()
    [error] = out.errors
    assert (error.file, error.line) == ("app/kustomization.yaml", 3)
    assert "is a remote reference" in error.message


def test_a_local_directory_named_like_a_remote_is_still_refused(git_repo: GitRepoBuilder,
                                                                git_calls: Path) -> None:
    """kustomize tries the repository URL before the local directory, so existing locally is not enough."""
    git_repo.commit({"app/kustomization.yaml": "resources: ['github.com:org/repo']\n",
                     "app/github.com:org/repo/kustomization.yaml": "resources: [cm.yaml]\n",
                     "app/github.com:org/repo/cm.yaml": CM}, "a look-alike")
    out = render(git_repo)
    assert out.resources == [] and not git_calls.exists()
    assert ["is a remote reference" in e.message for e in out.errors] == [True]


def test_a_remote_base_behind_a_symlinked_directory_is_found(git_repo: GitRepoBuilder,
                                                             web: tuple[str, list[str]]) -> None:
    url, requests = web
    git_repo.commit({"app/kustomization.yaml": "resources: [base]\n",
                     "evil/kustomization.yaml": f"resources: ['{url}/cm.yaml']\n"}, "a base")
    (git_repo.path / "app" / "base").symlink_to("../evil")
    git_repo.commit({}, "the base through a symlink")
    out = render(git_repo)
    assert out.resources == [] and requests == []
    [error] = out.errors
    assert error.file == "app/base/kustomization.yaml" and "is a remote reference" in error.message


def test_an_inline_builtin_transformer_cannot_fetch_its_patch(git_repo: GitRepoBuilder,
                                                              web: tuple[str, list[str]]) -> None:
    url, requests = web
    transformer = f"apiVersion: builtin\nkind: PatchTransformer\nmetadata: {{name: p}}\npath: {url}/p.yaml\n"
    git_repo.commit({**LOCAL, "app/kustomization.yaml": "resources: [cm.yaml]\ntransformers:\n- |\n"
                     + "".join(f"  {line}\n" for line in transformer.splitlines())}, "inline transformer")
    out = render(git_repo)
    assert out.resources == [] and requests == []
    assert ["is a remote reference" in e.message for e in out.errors] == [True]


def test_a_transformer_config_file_cannot_fetch_its_patch(git_repo: GitRepoBuilder,
                                                          web: tuple[str, list[str]]) -> None:
    url, requests = web
    git_repo.commit({**LOCAL, "app/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [t.yaml]\n",
                     "app/t.yaml": f"apiVersion: builtin\nkind: PatchTransformer\nmetadata: {{name: p}}\n"
                                   f"path: {url}/p.yaml\n"}, "transformer file")
    out = render(git_repo)
    assert out.resources == [] and requests == []
    assert ["is a remote reference" in e.message for e in out.errors] == [True]
