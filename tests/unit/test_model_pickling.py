"""Results cross from a forked worker to the run by pickle, as their constructors' arguments."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field

import pytest

from driftcheck.model import ChangedBy, FieldDiff, IgnoredField, Origin, ResourceKey, ResourceResult
from driftcheck.model.pickling import by_fields


def test_a_result_comes_back_equal_with_its_diffs_attribution_and_ignored_fields() -> None:
    who = ChangedBy("kubectl-edit", "Update", "2026-12-01T10:00:00Z")
    result = ResourceResult(
        ResourceKey("apps", "Deployment", "web", "api"), "web", "drifted", "apps/v1",
        diffs=[FieldDiff("/spec/replicas", 3, 5, who)],
        ignored=[IgnoredField("/metadata/labels/hash", "argo-rollouts#0")],
        source=Origin("git", "apps/web/deploy.yaml", 12, "a" * 40), reason="")
    back = pickle.loads(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == result and back.diffs[0].changed_by == result.diffs[0].changed_by
    assert ResourceResult.__reduce__(result)[0] is ResourceResult  # by its fields, not a state dict


def test_a_dataclass_with_a_field_init_does_not_set_is_refused() -> None:
    @dataclass
    class Computed:
        a: int
        b: int = field(init=False, default=0)

    with pytest.raises(TypeError, match="all set by __init__"):
        by_fields(Computed)
