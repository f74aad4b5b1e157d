"""What `driftcheck render` writes for inputs that are valid but unusual, or odd in one file only: long
names fit the file system, an object JSON cannot carry and a file name that is not UTF-8 are reported
on that file, and every other object is still written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from driftcheck.apps import path_app
from driftcheck.model import Origin, Resource, ResourceKey
from driftcheck.render import Rendered
from driftcheck.report.desired_dir import NAME_BYTES, write_desired
from testing import planted

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

LONG = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters: the longest valid name
LATIN1_NAME = b"caf\xe9.yaml".decode("utf-8", "surrogateescape")  # how Git's bytes reach a str


def _config_map(name: str, **data: Any) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


def _render(repo: GitRepoBuilder, tmp_path: Path, *paths: str) -> tuple[int, str, dict[str, Any], Path]:
    out = tmp_path / "out"
    args = ["render", "--repo", str(repo.path), "-n", "demo", "--out", str(out)]
    for path in paths:
        args += ["--path", path]
    run = planted.run_cli(args, tmp_path / "logs")
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr, run.stderr
    return run.returncode, run.stderr, json.loads((out / "MANIFEST.json").read_text(encoding="utf-8")), out


def test_a_253_character_name_renders_to_a_shortened_file_with_its_real_name_in_the_manifest(
        git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    twin = LONG[:-1] + "e"  # differs only past the cap: must not share a file
    git_repo.commit({"app/cm.yaml": _config_map(LONG, k="first") + "---\n" + _config_map(twin, k="second"),
                     "app/short.yaml": _config_map("short")}, "long names")
    code, err, manifest, out = _render(git_repo, tmp_path, "app")
    assert code == 0, err
    entries = {o["name"]: o for o in manifest["objects"]}
    assert set(entries) == {LONG, twin, "short"}
    assert entries["short"]["file"] == "demo/ConfigMap.short.yaml"
    assert entries[LONG]["file"] != entries[twin]["file"]
    for name, value in ((LONG, "first"), (twin, "second")):
        file = out / entries[name]["file"]
        assert len(file.name.encode()) <= NAME_BYTES and file.name.endswith(".yaml")
        body = yaml.safe_load(file.read_text())
        assert body["metadata"]["name"] == name and body["data"] == {"k": value}


def test_names_that_differ_only_in_a_character_a_file_name_cannot_hold_get_their_own_files(
        tmp_path: Path) -> None:
    app = path_app("hostile", "app", "demo")
    rendered = Rendered(app)
    for name in ("a/b", "a_b", "a\\b"):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "demo"}}
        rendered.resources.append(Resource(ResourceKey("", "ConfigMap", "demo", name), "v1", body,
                                           Origin("git", "app/cm.yaml", 1)))
    write_desired(tmp_path / "out", [rendered], {})
    manifest = json.loads((tmp_path / "out" / "MANIFEST.json").read_text())
    files = {o["name"]: o["file"] for o in manifest["objects"]}
    assert len(set(files.values())) == 3
    for name, rel in files.items():
        assert yaml.safe_load((tmp_path / "out" / rel).read_text())["metadata"]["name"] == name


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"], ids=["inf", "minus-inf", "nan"])
def test_a_value_json_cannot_carry_is_an_error_on_its_file_and_the_rest_renders(
        git_repo: GitRepoBuilder, tmp_path: Path, value: str) -> None:
    git_repo.commit({"odd/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: odd}\n"
                                    f"spec: {{x: {value}}}\n",
                     "fine/cm.yaml": _config_map("fine")}, "one odd value")
    code, err, manifest, out = _render(git_repo, tmp_path, "odd", "fine")
    assert code == 2
    [error] = manifest["errors"]
    assert (error["file"], error["line"], error["resource"]) == ("odd/cm.yaml", 1, "ConfigMap/demo/odd")
    assert "app odd, odd/cm.yaml:1, ConfigMap/demo/odd: cannot be written" in err
    assert [o["name"] for o in manifest["objects"]] == ["fine"]
    assert (out / "demo" / "ConfigMap.fine.yaml").is_file()
    assert not (out / "demo" / "ConfigMap.odd.yaml").exists()


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10 ** 5000, "lone \ud800 surrogate"],
                         ids=["inf", "nan", "5001-digit-int", "lone-surrogate"])
def test_a_body_a_renderer_made_that_json_cannot_carry_is_one_error(tmp_path: Path, value: Any) -> None:
    rendered = Rendered(path_app("chart", "chart", "demo"))
    for name, data in (("odd", {"x": value}), ("fine", {"x": "1"})):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
        rendered.resources.append(Resource(ResourceKey("", "ConfigMap", "demo", name), "v1", body,
                                           Origin("git", "chart/templates/cm.yaml", 0)))
    written = write_desired(tmp_path / "out", [rendered], {})
    assert written.objects == 1 and [e.resource for e in written.errors] == ["ConfigMap/demo/odd"]
    assert written.errors[0].file == "chart/templates/cm.yaml" and written.errors[0].app == "chart"
    assert (tmp_path / "out" / "demo" / "ConfigMap.fine.yaml").is_file()


def test_a_file_name_that_is_not_utf8_is_shown_escaped_and_the_run_goes_on(
        git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    git_repo.commit({f"latin1/{LATIN1_NAME}": _config_map("cm"), "fine/cm.yaml": _config_map("other"),
                     f"latin1/{LATIN1_NAME[:-5]}-bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n"},
                    "a Latin-1 file name")
    code, err, manifest, out = _render(git_repo, tmp_path, "latin1", "fine")
    assert code == 2  # the malformed file; both good ones are written
    sources = {o["name"]: o["source"]["file"] for o in manifest["objects"]}
    assert sources == {"cm": "latin1/caf\\xe9.yaml", "other": "fine/cm.yaml"}
    assert "latin1/caf\\xe9.yaml" in next(a for a in manifest["apps"] if a["name"] == "latin1")["files_read"]
    assert [e["file"] for e in manifest["errors"]] == ["latin1/caf\\xe9-bad.yaml"]
    assert "latin1/caf\\xe9-bad.yaml" in err
    assert (out / "demo" / "ConfigMap.cm.yaml").is_file()


def test_check_reports_a_file_name_that_is_not_utf8_escaped(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    git_repo.commit({f"latin1/{LATIN1_NAME}": _config_map("cm")}, "a Latin-1 file name")
    live = planted.write_input(tmp_path / "live.yaml", "apiVersion: v1\nkind: ConfigMap\n"
                                                       "metadata: {name: cm, namespace: demo}\n")
    run = planted.run_cli(["check", "--repo", str(git_repo.path), "--path", "latin1", "-n", "demo",
                           "--live-snapshot", str(live), "--out", str(tmp_path / "reports"),
                           "--format", "json,html,md,junit", "-o", "json"], tmp_path / "logs")
    assert run.returncode == 0, run.stderr
    [report] = (tmp_path / "reports").rglob("report.json")
    text = report.read_text(encoding="utf-8")
    assert '"latin1/caf\\\\xe9.yaml"' in text and "\\udce9" not in text
    assert os.fsencode(LATIN1_NAME) not in report.read_bytes()
