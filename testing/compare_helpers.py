"""Builders for compare tests: resources, live states and a one-call comparison (tests/unit/compare)."""

from __future__ import annotations

import copy
from typing import Any

from driftcheck.apps import path_app
from driftcheck.compare import CompareOptions, compare_app, load_rules
from driftcheck.model import LiveState, Origin, Resource, ResourceKey, ResourceResult, RunError

APP = path_app("blog-system", "services/blog-system", "blog-system")


def res(body: dict[str, Any], kind: str = "git") -> Resource:
    body = copy.deepcopy(body)
    return Resource(ResourceKey.of(body), str(body.get("apiVersion", "")), body,
                    Origin("git", "app.yaml", 1) if kind == "git" else Origin("cluster"))


def run(desired: list[dict[str, Any]], live: list[dict[str, Any]], packs: list[str] | None = None,
        app_rules: list[dict[str, Any]] | None = None, options: CompareOptions | None = None,
        **live_state: Any) -> tuple[list[ResourceResult], list[RunError], list[str]]:
    """Compare and return (results, rule errors incl. load errors, unused rule ids)."""
    extra = [("app:" + APP.name, app_rules)] if app_rules else []
    rules, errors = load_rules(packs or [], [], extra)
    state = LiveState([res(b, "cluster") for b in live], **live_state)
    results = compare_app(APP, [res(b) for b in desired], state, rules, options or CompareOptions())
    return results, errors + rules.errors(), rules.unused()


def one(desired: dict[str, Any], live: dict[str, Any], **kw: Any) -> ResourceResult:
    results, _, _ = run([desired], [live], **kw)
    assert len(results) == 1
    return results[0]


def paths(result: ResourceResult) -> list[str]:
    return sorted(d.path for d in result.diffs)
