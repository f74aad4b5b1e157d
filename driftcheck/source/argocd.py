"""Finding ArgoCD Application documents in a commit by glob (`--argocd-apps 'argocd/*.yaml'`).

Only reading happens here; turning the documents into apps is `config.apps_from_argocd`.
"""

from __future__ import annotations

import re
from typing import Any

from driftcheck.config import ARGOCD_KINDS
from driftcheck.model import RunError
from driftcheck.source.tree import CommitTree
from driftcheck.source.yamlload import load_manifests


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A repository-relative glob as a regex: `*` and `?` stay within a directory, `**/` spans any."""
    out = ""
    i = 0
    pattern = pattern.strip().removeprefix("./").lstrip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def find_application_documents(tree: CommitTree, pattern: str
                               ) -> tuple[list[tuple[dict[str, Any], str, int]], list[RunError]]:
    """(body, file, line) of every Application/ApplicationSet in files matching pattern at this commit."""
    regex = glob_regex(pattern)
    documents: list[tuple[dict[str, Any], str, int]] = []
    errors: list[RunError] = []
    files = [f for f in tree.list_files("", recurse=True) if regex.match(f)]
    if not files:
        errors.append(RunError(f"--argocd-apps {pattern}: no file matches at commit {tree.sha[:12]}",
                               stage="source"))
    for file in files:
        docs, errs = load_manifests(tree.read(file), file)
        errors.extend(errs)
        documents += [(body, file, line) for body, line in docs if body.get("kind") in ARGOCD_KINDS]
    return documents, errors
