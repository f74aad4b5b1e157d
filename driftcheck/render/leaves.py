"""Leaf apps: apps whose render can hold no Application or ApplicationSet, so no app-of-apps children.

A fleet run needs every app-of-apps parent rendered before it knows which apps go to which cluster; a leaf
it can render where its cluster is audited instead (driftcheck.fleet_audit): in the forked workers, in
parallel, and only for the clusters of its own shard.

What makes a leaf is read from the bytes, conservatively: its one source is a plain directory of the
audited commit, of YAML and JSON files only (no jsonnet, no symlinks), none of which spells
`Application`. A backslash counts as spelling it, since a YAML or JSON escape (`\\x41`, `\\u0041`, a
line joined by `\\`) could; an app that is not found a leaf is rendered as before, never missed.
"""

from __future__ import annotations

import git

from driftcheck.fetch.tree import Tree
from driftcheck.model import App, DriftcheckError
from driftcheck.render import directory_files

LEAF_SUFFIXES = (".yaml", ".yml", ".json")
_MAY_DECLARE_APPS = (b"Application", b"\\")


def leaf_apps(tree: Tree, apps: list[App]) -> dict[str, int]:
    """The leaf apps among apps, at the audited commit's tree, each with the documents its files hold
    (what balancing clusters over workers weighs before anything is rendered)."""
    out: dict[str, int] = {}
    for app in apps:
        if len(app.sources) != 1:
            continue
        try:
            files = directory_files(tree, app)
            if files is None or not all(f.endswith(LEAF_SUFFIXES) and tree.symlink_target(f) is None
                                        for f in files):
                continue
            contents = [tree.read(f) for f in files]
        except (DriftcheckError, git.GitError, OSError, ValueError):
            continue  # the render says what is wrong with it
        if not any(mark in data for data in contents for mark in _MAY_DECLARE_APPS):
            out[app.name] = sum(data.count(b"\n---") + 1 for data in contents)
    return out
