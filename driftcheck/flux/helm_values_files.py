"""A HelmChart's `valuesFiles` as source-controller applies them: merged in order and written over the
chart's own `values.yaml` before the chart is packaged (`internal/helm/chart`: `mergeFileValues` for a
chart from Git, `mergeChartValues` for one from a repository, then `OverwriteChartDefaultValues`).

So they are the chart's *defaults*, under the HelmRelease's user values, and they replace values.yaml:
a key only values.yaml has is gone unless values.yaml is listed. Paths of a chart from Git are relative
to the artifact root (clamped inside it, like SecureJoin); of a chart from a repository, relative to the
chart, `values.yaml` there meaning the chart's values and other names its non-template files. A list of
just `values.yaml` changes nothing (`BuildOptions.GetValuesFiles`). A missing file is an error unless
`ignoreMissingValuesFiles`, and a list whose files are all missing then empties the defaults, as it does
in Flux. `DefaultsTree` is the chart tree with that values.yaml, for the Helm renderer.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from driftcheck.fetch.tree import Tree
from driftcheck.flux.helm_values import merge_maps
from driftcheck.flux.objects import FluxObjectError
from driftcheck.model import DriftcheckError, RunError

VALUES = "values.yaml"
# what Helm's loader keeps out of a chart's Files (so mergeChartValues cannot find them there)
_NOT_FILES = ("Chart.yaml", "Chart.lock", "requirements.yaml", "requirements.lock", "values.schema.json")


class ValuesFilesError(FluxObjectError):
    """A valuesFiles entry source-controller could not merge: its HelmChart fails."""


def chart_defaults(tree: Tree, chart: str, files: tuple[str, ...], ignore_missing: bool,
                   from_artifact: bool) -> tuple[dict[str, Any], list[str]] | None:
    """The merged defaults and the tree paths read, or None when the chart's values.yaml stays."""
    if not files or (len(files) == 1 and posixpath.normpath(files[0]) == VALUES):
        return None
    merged: dict[str, Any] = {}
    read: list[str] = []
    for given in files:
        path = _artifact_path(given) if from_artifact else _chart_file(chart, given)
        if path is None or not tree.exists(path) or tree.is_dir(path):
            if ignore_missing and path is not None and not tree.exists(path):
                continue
            shown = f"'/{path}' (reference '{given}')" if from_artifact else f"'{given}'"
            raise ValuesFilesError(f"no values file found at path {shown}")
        merged = merge_maps(merged, _values(tree, path, given))
        read.append(path)
    if not tree.exists(posixpath.join(chart, VALUES)):
        raise ValuesFilesError(f"failed to locate values file: {VALUES}")
    return merged, read


def _artifact_path(given: str) -> str:
    """SecureJoin(artifact, given) as a tree path: `..` stops at the root."""
    return posixpath.normpath(posixpath.join("/", given)).lstrip("/")


def _chart_file(chart: str, given: str) -> str | None:
    """filepath.Clean(given) among the chart's Files (values.yaml is the chart's own values)."""
    name = posixpath.normpath(given)
    if name == VALUES:
        return posixpath.join(chart, VALUES)
    if name.startswith(("../", "/", "templates/", "charts/")) or name in _NOT_FILES:
        return None
    return posixpath.join(chart, name)


def _values(tree: Tree, path: str, given: str) -> dict[str, Any]:
    from driftcheck.render.yaml import YAMLStreamError, load_single

    try:
        parsed = load_single(tree.read(path))
    except (YAMLStreamError, DriftcheckError) as e:
        raise ValuesFilesError(f"unmarshaling values from '{given}' failed: {e}") from None
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise ValuesFilesError(f"unmarshaling values from '{given}' failed: not a map of values")
    return parsed


class DefaultsTree:
    """tree with the chart's values.yaml replaced by the merged valuesFiles (every export private)."""

    def __init__(self, tree: Tree, chart: str, defaults: dict[str, Any]) -> None:
        from driftcheck.render.yaml import dump_yaml

        self.tree, self.values_path = tree, posixpath.join(chart, VALUES)
        self.values = dump_yaml(defaults).encode() if defaults else b""

    @property
    def sha(self) -> str:
        return self.tree.sha

    @property
    def date(self) -> str:
        return self.tree.date

    def exists(self, path: str) -> bool:
        return self.tree.exists(path)

    def is_dir(self, path: str) -> bool:
        return self.tree.is_dir(path)

    def read(self, path: str) -> bytes:
        return self.values if posixpath.normpath(path) == self.values_path else self.tree.read(path)

    def list_files(self, path: str = "", recurse: bool = False) -> list[str]:
        return self.tree.list_files(path, recurse)

    def symlink_target(self, path: str) -> str | None:
        return self.tree.symlink_target(path)

    def refused(self, path: str = "") -> list[RunError]:
        return self.tree.refused(path)

    def export(self, dest: Path, path: str = "") -> list[RunError]:
        errors = self.tree.export(dest, path)
        self._overwrite(dest, path)
        return errors

    @contextmanager
    def exported(self, private: bool = False) -> Iterator[tuple[Path, list[RunError]]]:
        with self.tree.exported(private=True) as (root, errors):
            self._overwrite(root, "")
            yield root, errors

    def _overwrite(self, dest: Path, path: str) -> None:
        base = path.strip("/")
        if base and not self.values_path.startswith(f"{base}/"):
            return
        target = dest / self.values_path[len(base) + 1 if base else 0:]
        if target.is_symlink():
            target.unlink()
        target.write_bytes(self.values)
