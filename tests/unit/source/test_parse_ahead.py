"""parse_ahead: files parsed in forked workers load as the render would have loaded them; a broken file is
left to the render, which still reports it with its line."""

from __future__ import annotations

import pytest
import yaml

from driftcheck.render.yaml import load, parse_ahead
from driftcheck.render.yaml.load import load_manifests
from driftcheck.render.yaml.parse_ahead import ParseAhead


def manifests(name: str) -> bytes:
    return yaml.safe_dump_all([{"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": f"cm-{name}-{i}", "namespace": "team"},
                                "data": {"replicas": "3", "on": True, "n": i}} for i in range(50)]).encode()


def test_files_parsed_ahead_are_the_renders_and_a_broken_one_still_says_where(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_ahead, "MIN_BYTES", 0)
    monkeypatch.setattr(load, "_PARSED", {})
    good = [manifests(str(f)) for f in range(6)]
    broken = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: [unclosed\n"
    expected = [load_manifests(data, "f.yaml") for data in good]
    expected_broken = load_manifests(broken, "apps/broken.yaml")
    monkeypatch.setattr(load, "_PARSED", {})

    ahead = ParseAhead([*good, broken], 2, lambda _line: None)
    ahead.ready(good[:1])  # the first app's file: parsed and kept before its render reads it
    assert load.parsed_entry(good[0]) is not None
    ahead.ready([broken])  # known not kept: the render parses it itself
    assert load.parsed_entry(broken) is None
    ahead.finish()

    assert ahead.kept == len(good)
    assert all(load.parsed_entry(data) is not None for data in good)
    assert [load_manifests(data, "f.yaml") for data in good] == expected
    _, errors = load_manifests(broken, "apps/broken.yaml")
    assert load_manifests(broken, "apps/broken.yaml") == expected_broken
    assert (errors[0].file, errors[0].line) == ("apps/broken.yaml", 6)
    assert "malformed YAML" in errors[0].message


def test_one_worker_or_few_bytes_parse_nothing_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "_PARSED", {})
    data = manifests("x")
    for ahead in (ParseAhead([data], 2, lambda _line: None),  # below MIN_BYTES
                  ParseAhead([data], 1, lambda _line: None)):
        ahead.ready([data])
        ahead.finish()
        assert ahead.kept == 0
    assert load.parsed_entry(data) is None
