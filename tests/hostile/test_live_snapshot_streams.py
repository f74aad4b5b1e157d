"""A snapshot file is JSON or a YAML stream whatever its first character: `{…}\n---\n{…}` (a stream of JSON
documents, as `kubectl get -o json` pieces are often joined) is read, not refused as bad JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftcheck.live.snapshot import read_snapshot
from driftcheck.model import DriftcheckError


def config_map(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "demo"}}


@pytest.mark.parametrize("text", [
    json.dumps(config_map("a")) + "\n---\n" + json.dumps(config_map("b")) + "\n",
    "  " + json.dumps(config_map("a")) + "\n---\n" + "apiVersion: v1\nkind: ConfigMap\n"
    "metadata: {name: b, namespace: demo}\n",
    json.dumps({"apiVersion": "v1", "kind": "List", "items": [config_map("a"), config_map("b")]}, indent=2),
])
def test_a_snapshot_starting_with_a_brace_is_read_as_json_or_as_a_yaml_stream(tmp_path: Path,
                                                                              text: str) -> None:
    path = tmp_path / "live.yaml"
    path.write_text(text)
    assert sorted(r.key.name for r in read_snapshot(path).resources) == ["a", "b"]


def test_a_broken_snapshot_is_still_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "live.yaml"
    path.write_text('{"apiVersion": "v1", "kind": ConfigMap\n---\n{')
    with pytest.raises(DriftcheckError, match=r"live snapshot .*live\.yaml: not valid YAML or JSON"):
        read_snapshot(path)
