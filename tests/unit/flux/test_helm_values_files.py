"""A HelmChart's valuesFiles as source-controller merges them (builder_local mergeFileValues, builder_remote
mergeChartValues, OverwriteChartDefaultValues): in order, maps merged, replacing values.yaml; artifact-root
paths clamped inside the root; a chart's own values.yaml and files; missing files and ignoreMissing."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftcheck.fetch.dirtree import DirTree
from driftcheck.flux.helm_values_files import DefaultsTree, ValuesFilesError, chart_defaults


@pytest.fixture
def tree(tmp_path: Path) -> DirTree:
    files = {"chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\n",
             "chart/values.yaml": "a: 1\nnested: {x: 1, z: 1}\n",
             "chart/prod.yaml": "nested: {z: 2}\nlist: [1]\n",
             "chart/templates/t.yaml": "b: 1\n",
             "env/extra.yaml": "list: [2]\nnested: scalar\n",
             "env/list.yaml": "- not a map\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return DirTree(tmp_path, "sha")


def test_files_from_the_artifact_root_merge_in_order_and_replace_values_yaml(tree: DirTree) -> None:
    assert chart_defaults(tree, "chart", ("chart/prod.yaml",), False, True) == (
        {"nested": {"z": 2}, "list": [1]}, ["chart/prod.yaml"])  # values.yaml's a is gone
    assert chart_defaults(tree, "chart", ("chart/values.yaml", "../../chart/prod.yaml"), False, True) == (
        {"a": 1, "nested": {"x": 1, "z": 2}, "list": [1]}, ["chart/values.yaml", "chart/prod.yaml"])
    assert chart_defaults(tree, "chart", ("chart/prod.yaml", "env/extra.yaml"), False, True) == (
        {"nested": "scalar", "list": [2]}, ["chart/prod.yaml", "env/extra.yaml"])  # lists replaced


def test_only_values_yaml_or_nothing_changes_nothing(tree: DirTree) -> None:
    assert chart_defaults(tree, "chart", (), False, True) is None
    assert chart_defaults(tree, "chart", ("./values.yaml",), False, False) is None


def test_a_repository_chart_reads_its_own_files(tree: DirTree) -> None:
    assert chart_defaults(tree, "chart", ("values.yaml", "prod.yaml"), False, False) == (
        {"a": 1, "nested": {"x": 1, "z": 2}, "list": [1]}, ["chart/values.yaml", "chart/prod.yaml"])
    with pytest.raises(ValuesFilesError, match=r"no values file found at path 'templates/t\.yaml'"):
        chart_defaults(tree, "chart", ("prod.yaml", "templates/t.yaml"), False, False)  # not a chart File


def test_missing_files(tree: DirTree) -> None:
    with pytest.raises(ValuesFilesError, match=r"no values file found at path '/chart/absent.yaml' "
                                               r"\(reference 'chart/absent.yaml'\)"):
        chart_defaults(tree, "chart", ("chart/prod.yaml", "chart/absent.yaml"), False, True)
    assert chart_defaults(tree, "chart", ("chart/absent.yaml", "env/extra.yaml"), True, True) == (
        {"list": [2], "nested": "scalar"}, ["env/extra.yaml"])
    assert chart_defaults(tree, "chart", ("chart/absent.yaml",), True, True) == ({}, [])  # emptied
    with pytest.raises(ValuesFilesError, match="no values file found at path '/env'"):
        chart_defaults(tree, "chart", ("env",), True, True)  # a directory is no file, even if tolerant


def test_a_file_that_is_not_a_map_is_an_error_naming_it(tree: DirTree) -> None:
    with pytest.raises(ValuesFilesError, match=r"unmarshaling values from 'env/list\.yaml' failed"):
        chart_defaults(tree, "chart", ("env/list.yaml", "chart/prod.yaml"), False, True)


def test_the_defaults_tree_exports_the_merged_values(tree: DirTree) -> None:
    defaults = DefaultsTree(tree, "chart", {"nested": {"z": 2}})
    with defaults.exported() as (root, errors):
        assert not errors
        assert (root / "chart" / "values.yaml").read_text() == "nested:\n  z: 2\n"
        assert (root / "chart" / "prod.yaml").exists()
    assert defaults.read("chart/values.yaml") == b"nested:\n  z: 2\n"
    assert tree.read("chart/values.yaml") == b"a: 1\nnested: {x: 1, z: 1}\n"  # the source is untouched
