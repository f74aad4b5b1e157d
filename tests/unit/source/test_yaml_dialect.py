"""One YAML dialect: every loader entry point (manifests fast and full, snapshots as YAML and JSON, config
and rule files) types the same scalars alike, as Kubernetes does.

Expected values follow sigs.k8s.io/yaml: go-yaml v2 types the plain scalar (YAML 1.1 booleans and
octal, Go's ParseInt(s, 0, 64), no sexagesimal, timestamps kept as strings, a float beyond float64 left
a string), the value is written as JSON, and apimachinery reads that JSON back (so 1e3 and 1.0, which
Go writes as 1000 and 1, are integers). Beyond int64 Kubernetes holds a float64; the loaders keep the
exact integer, which compares equal to it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftcheck.live.snapshot import read_snapshot
from driftcheck.render.yaml import load, load_lined, load_manifests, load_single

INF = float("inf")
SCALARS: list[tuple[str, Any]] = [
    ("12:30", "12:30"), ("1:30:00", "1:30:00"), ("y", True), ("Y", True), ("yes", True), ("Yes", True),
    ("on", True), ("ON", True), ("n", False), ("no", False), ("off", False), ("true", True), ("False", False),
    ("1e3", 1000), ("1E3", 1000), ("1.0", 1), ("0.", 0), ("1.5", 1.5), (".5", 0.5), ("-1.5e-3", -0.0015),
    ("1e999", "1e999"), (".inf", INF), ("-.inf", -INF), ("+1", 1), ("-0", 0),
    ("0o17", 15), ("017", 15), ("0755", 493), ("08", 8), ("0x1F", 31), ("0b101", 5), ("0o8", "0o8"),
    ("1_000", 1000), ("9223372036854775807", 2**63 - 1), ("-9223372036854775808", -2**63),
    ("18446744073709551616", 2**64), ("~", None), ("null", None), ("Null", None), ("", None),
    ("2026-01-20", "2026-01-20"), ("2026-01-20T10:00:00Z", "2026-01-20T10:00:00Z"),
    ("2001-12-14 21:59:43.10 -5", "2001-12-14 21:59:43.10 -5"), ("=", "="), ("v1.2", "v1.2"),
    ("nginx:1.25", "nginx:1.25"), ("'yes'", "yes"), ('"0755"', "0755"), ("'12:30'", "12:30"),
    ('"1e3"', "1e3"), ("'~'", "~"), ("!!str 017", "017"), ("!!float 1", 1), ("!!int '017'", 15),
]
NAN = [".nan", ".NaN"]


def _object(value_yaml: str, anchor: bool = False) -> str:
    extra = "anchored: &a x\ncopy: *a\n" if anchor else ""
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm}}\n{extra}v: {value_yaml}\n"


def _fast(text: str, _: Path) -> Any:
    data = text.encode()
    assert load.load_fast(data) is not None, "an ordinary file takes the fast path"
    load._PARSED.clear()
    manifests, errors = load_manifests(data, "cm.yaml")
    assert errors == []
    return manifests[0][0]["v"]


def _full(text: str, tmp: Path) -> Any:
    data = _object(text.split("v: ", 1)[1].rstrip("\n"), anchor=True).encode()
    assert load.load_fast(data) is None, "an anchor takes the full path"
    manifests, errors = load_manifests(data, "cm.yaml")
    assert errors == []
    return manifests[0][0]["v"]


def _snapshot(text: str, tmp: Path) -> Any:
    (tmp / "live.yaml").write_text(text)
    return read_snapshot(tmp / "live.yaml").resources[0].body["v"]


def _snapshot_aliases(text: str, tmp: Path) -> Any:
    return _snapshot(_object(text.split("v: ", 1)[1].rstrip("\n"), anchor=True), tmp)


def _config(text: str, _: Path) -> Any:
    return load_lined(text)["v"]


def _rules(text: str, _: Path) -> Any:
    return load_single(text.encode())["v"]


YAML_READERS: dict[str, Callable[[str, Path], Any]] = {
    "manifest-fast": _fast, "manifest-full": _full, "snapshot-yaml": _snapshot,
    "snapshot-yaml-aliases": _snapshot_aliases, "config": _config, "rule-file": _rules,
}


def same(got: Any, want: Any) -> bool:
    return type(got) is type(want) and (got == want or (isinstance(got, float) and math.isnan(got)
                                                        and math.isnan(want)))


@pytest.mark.parametrize("reader", list(YAML_READERS))
def test_every_yaml_reader_types_the_scalar_table_as_kubernetes(reader: str, tmp_path: Path) -> None:
    wrong = {}
    for text, want in SCALARS + [(n, math.nan) for n in NAN]:
        got = YAML_READERS[reader](_object(text), tmp_path)
        if not same(got, want):
            wrong[text] = got
    assert wrong == {}


JSON_NUMBERS: list[tuple[str, Any]] = [
    ("1e3", 1000), ("1.0", 1), ("1.5", 1.5), ("-0", 0), ("-0.0", 0), ("1E-3", 0.001), ("12", 12),
    ("9223372036854775807", 2**63 - 1), ("12345678901234567890", 12345678901234567890), ("1e21", 1e21),
    ('"\\ud800"', "\ufffd"), ('"a\\udfffb"', "a\ufffdb"), ('"\\ud83d\\ude00"', "\U0001f600"),
    ('"12:30"', "12:30"),
]


def _json_object(value_json: str) -> str:
    return '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "v": ' + value_json + "}"


def _json_manifest(text: str, _: Path) -> Any:
    manifests, errors = load_manifests(text.encode(), "cm.json")
    assert errors == []
    return manifests[0][0]["v"]


def _json_snapshot(text: str, tmp: Path) -> Any:
    (tmp / "live.json").write_text(text)
    return read_snapshot(tmp / "live.json").resources[0].body["v"]


def _json_stream_snapshot(text: str, tmp: Path) -> Any:
    """Our snapshot format: a YAML stream whose documents are one-line JSON."""
    (tmp / "live.yaml").write_text(f"---\n{text}\n---\n{text.replace('cm', 'cm2')}\n")
    return read_snapshot(tmp / "live.yaml").resources[0].body["v"]


JSON_READERS: dict[str, Callable[[str, Path], Any]] = {
    "manifest-json": _json_manifest, "snapshot-json": _json_snapshot,
    "snapshot-stream": _json_stream_snapshot,
}


@pytest.mark.parametrize("reader", list(JSON_READERS))
def test_every_json_reader_types_numbers_and_surrogates_as_kubernetes(reader: str, tmp_path: Path) -> None:
    wrong = {}
    for text, want in JSON_NUMBERS:
        got = JSON_READERS[reader](_json_object(text), tmp_path)
        if not same(got, want):
            wrong[text] = got
    assert wrong == {}
    assert json.dumps(JSON_READERS[reader](_json_object('"\\udc00"'), tmp_path)) == '"\\ufffd"'


def test_yaml_and_json_forms_of_one_object_load_alike(tmp_path: Path) -> None:
    """The same Kubernetes value written as YAML or as JSON is one value, in Git and in a snapshot."""
    for text, want in SCALARS:
        if isinstance(want, float) and math.isinf(want):
            continue  # JSON cannot carry it
        from_json = _json_manifest(_json_object(json.dumps(want)), tmp_path)
        assert same(from_json, want), text


def test_a_surrogate_escape_in_yaml_is_refused_at_its_line_as_go_yaml_does() -> None:
    manifests, errors = load_manifests(b"apiVersion: v1\nkind: A\n---\nkind: B\nv: \"\\ud800\"\n", "s.yaml")
    assert [b["kind"] for b, _ in manifests] == ["A"]
    assert [(e.file, e.line) for e in errors] == [("s.yaml", 5)] and "malformed YAML" in errors[0].message


def test_duplicate_keys_are_refused_by_the_stream_readers_as_by_the_manifest_loader(tmp_path: Path) -> None:
    (tmp_path / "live.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nv: 1\nv: 2\n")
    with pytest.raises(Exception, match=r'not valid YAML or JSON.*duplicate mapping key "v"'):
        read_snapshot(tmp_path / "live.yaml")


def test_config_loader_keeps_the_line_of_every_key_and_item() -> None:
    doc = load_lined("a: 1\nlist:\n  - x\n  -\n    y: 2\n")
    assert doc.lines == {"a": 1, "list": 2} and doc["list"].lines == [3, 5]
    assert doc["list"][1].lines == {"y": 5}
