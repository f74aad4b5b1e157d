"""Transitional: the YAML dialect moved to `driftcheck.source.yaml`; removed once no import is left."""

from __future__ import annotations

from driftcheck.source.yaml import MAX_DEPTH, MAX_FILE_BYTES, Manifest, dump_yaml, load_manifests

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "Manifest", "dump_yaml", "load_manifests"]
