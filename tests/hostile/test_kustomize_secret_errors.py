"""A typo in a secretGenerator never puts the Secret value into a report or on stderr: kustomize quotes
the literal or the env-file line in its error, so a failed build with Secret input says only that it
failed and where; any other failure keeps kustomize's words with the quoted values cut out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from driftcheck.apps import path_app
from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.tree import CommitTree
from driftcheck.render import render_app, sandbox
from testing import planted
from tests.conftest import GitRepoBuilder


def check(repo: GitRepoBuilder, tmp_path: Path, path: str) -> tuple[dict[str, Any], str, Path]:
    live = tmp_path / "live.json"
    live.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": []}))
    out = tmp_path / "out"
    args = ["check", "--repo", str(repo.path), "--path", path, "-n", "demo", "--live-snapshot", str(live),
            "--out", str(out), "--format", "html,json,md,junit"]
    done = planted.run_cli(args, tmp_path / "logs")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    report = json.loads(next(out.rglob("report.json")).read_text())
    return report, done.stdout + done.stderr, out


def outputs(out: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())


@pytest.mark.parametrize("case", ["literal", "env-file", "secret manifest"])
def test_a_failed_build_with_secret_input_keeps_the_value_out_of_every_report(
        git_repo: GitRepoBuilder, tmp_path: Path, case: str) -> None:
    value = planted.secret(f"kustomize-{case.replace(' ', '-')}")
    files: dict[str, str] = {
        "literal": {"app/kustomization.yaml":
                    f'secretGenerator:\n- name: db\n  literals:\n  - "password: {value}"\n'},
        "env-file": {"app/kustomization.yaml": "secretGenerator:\n- name: db\n  envs: [db.env]\n"},
        "secret manifest": {"app/kustomization.yaml": "resources: [secret.yaml]\npatches: [{path: p.yaml}]\n",
                            "app/p.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: other}\n",
                            "app/secret.yaml": f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\n"
                                               f"stringData: {{password: {value}}}\n"},
    }[case]
    git_repo.commit(files, "secret input")
    if case == "env-file":
        env_file = f"user=admin\npassword=s3cr\xe9t{value}\n".encode("latin-1")
        planted.write_input(git_repo.path / "app" / "db.env", env_file)
        git_repo.commit({}, "a Latin-1 byte in the env file")
    report, terminal, out = check(git_repo, tmp_path, "app")
    [error] = report["errors"]
    assert error["file"] == "app/kustomization.yaml" and error["app"] == "app"
    assert "failed" in error["message"] and "withheld" in error["message"]
    assert value not in terminal and value not in outputs(out)


def test_a_failed_build_without_secret_input_keeps_kustomizes_words_but_not_the_values(
        git_repo: GitRepoBuilder) -> None:
    value = planted.secret("configmap-literal")
    kustomization = f'configMapGenerator:\n- name: cfg\n  literals: ["token: {value}"]\n'
    git_repo.commit({"app/kustomization.yaml": kustomization}, "a typo")
    r = open_repo(str(git_repo.path))
    out = render_app(CommitTree(r, resolve_commit(r)), path_app("app", "app", "demo"))
    [error] = out.errors
    assert "loading KV pairs: literal sources <redacted>" in error.message and value not in error.message


@pytest.mark.parametrize(("stderr", "kept", "gone"), [
    (b"Error: invalid literal source password: hunter2-x, expected key=value", "literal source <redacted>",
     "hunter2"),
    (b"line [112 97 115 115] has invalid utf8 bytes : password=s3cr\xe9t-x", "invalid utf8 bytes <redacted>",
     "s3cr"),
    (b"Error: env line DB_PASSWORD=hunter2 is bad", "DB_PASSWORD=<redacted>", "hunter2"),
    (b'E1201 run.go:72] "command failed" err="accumulating resources from \'cm.yaml\'"',
     "err=\"accumulating resources from 'cm.yaml'\"", "<redacted>"),
])
def test_renderer_messages_lose_quoted_values(stderr: bytes, kept: str, gone: str, tmp_path: Path) -> None:
    stderr = stderr.replace(b"cm.yaml", str(tmp_path / "cm.yaml").encode())
    message = sandbox.renderer_message(stderr, tmp_path)
    assert kept in message and gone not in message and str(tmp_path) not in message


def test_renderer_messages_are_scrubbed_of_registered_credentials(tmp_path: Path) -> None:
    from driftcheck import scrub

    token = planted.secret("git-token")
    scrub.register(token)
    message = sandbox.renderer_message(f"fatal: authentication with {token} failed".encode(), tmp_path)
    assert token not in message and message == "fatal: authentication with *** failed"
