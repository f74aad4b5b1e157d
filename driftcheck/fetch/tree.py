"""The Tree seam: the files of one source at one revision, as renderers and history read them.

A Git commit (`CommitTree`) is one kind of Tree; a chart archive or an OCI artifact can be another, so
renderers depend on this Protocol, never on Git.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from driftcheck.model import RunError


class FileReader(Protocol):
    """The least a static walk needs (kustomize's input graph, history's rewound trees)."""

    def exists(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def read(self, path: str) -> bytes:
        """The file's bytes; DriftcheckError when absent or a directory."""
        ...


class Tree(FileReader, Protocol):
    """Repository-relative paths with `/` separators; nothing outside the tree is ever reachable."""

    @property
    def sha(self) -> str:
        """The revision's identity (a commit or a digest), for origins and messages."""
        ...

    @property
    def date(self) -> str:
        """ISO-8601 date of the revision."""
        ...

    def list_files(self, path: str = "", recurse: bool = False) -> list[str]:
        """Regular files (and symlinks) under path, sorted."""
        ...

    def symlink_target(self, path: str) -> str | None:
        """Where a symlink points, as stored (never resolved); None for anything else."""
        ...

    def refused(self, path: str = "") -> list[RunError]:
        """Entries under path left out because a checkout would refuse them, one error each."""
        ...

    def export(self, dest: Path, path: str = "") -> list[RunError]:
        """Write the files under path into dest; nothing is written outside it."""
        ...

    def exported(self, private: bool = False) -> AbstractContextManager[tuple[Path, list[RunError]]]:
        """The whole tree on disk for a renderer binary, with the export's errors; private for a copy
        the caller may edit."""
        ...
