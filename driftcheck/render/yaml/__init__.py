"""The Kubernetes YAML dialect, in one place: every reader of YAML (Git, snapshots, config) and the writer.

`dialect` types scalars as sigs.k8s.io/yaml does; `load` reads manifests with errors per file;
`stream` reads snapshots and config files; `dump` writes objects back.
"""

from __future__ import annotations

from driftcheck.render.yaml.dialect import decode_json
from driftcheck.render.yaml.dump import dump_yaml
from driftcheck.render.yaml.fast import Manifest
from driftcheck.render.yaml.limits import MAX_DEPTH, MAX_FILE_BYTES
from driftcheck.render.yaml.load import load_manifests
from driftcheck.render.yaml.stream import (
           LinedMap,
           LinedSeq,
           YAMLStreamError,
           load_documents,
           load_lined,
           load_lined_documents,
           load_single,
)

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "LinedMap", "LinedSeq", "Manifest", "YAMLStreamError",
           "decode_json", "dump_yaml", "load_documents", "load_lined", "load_lined_documents",
           "load_manifests",
           "load_single"]
