"""parse_ahead: files parsed in forked workers load as the render would have loaded them; a broken file is
left to the render, which still reports it with its line."""

from __future__ import annotations

import pytest
import yaml

from driftcheck.render.yaml import load, parse_ahead
from driftcheck.render.yaml.load import load_manifests


def test_files_parsed_ahead_are_the_renders_and_a_broken_one_still_says_where(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_ahead, "MIN_BYTES", 0)
    monkeypatch.setattr(load, "_PARSED", {})
    good = [yaml.safe_dump_all([{"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": f"cm-{f}-{i}", "namespace": "team"},
                                 "data": {"replicas": "3", "on": True, "n": i}} for i in range(50)]).encode()
            for f in range(6)]
    broken = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: [unclosed\n"
    expected = [load_manifests(data, "f.yaml") for data in good]
    expected_broken = load_manifests(broken, "apps/broken.yaml")
    monkeypatch.setattr(load, "_PARSED", {})

    kept = parse_ahead.parse_ahead([*good, broken], 2, lambda _line: None)

    assert kept == len(good)  # the broken file is not kept
    assert all(load.parsed_entry(data) is not None for data in good)
    assert [load_manifests(data, "f.yaml") for data in good] == expected
    _, errors = load_manifests(broken, "apps/broken.yaml")
    assert load_manifests(broken, "apps/broken.yaml") == expected_broken
    assert (errors[0].file, errors[0].line) == ("apps/broken.yaml", 6)
    assert "malformed YAML" in errors[0].message


def test_one_worker_or_few_bytes_parse_nothing_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "_PARSED", {})
    data = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
    assert parse_ahead.parse_ahead([data], 2, lambda _line: None) == 0  # below MIN_BYTES
    monkeypatch.setattr(parse_ahead, "MIN_BYTES", 0)
    assert parse_ahead.parse_ahead([data], 1, lambda _line: None) == 0
    assert load.parsed_entry(data) is None
