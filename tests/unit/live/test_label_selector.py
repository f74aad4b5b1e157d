"""Label selectors choose Git's objects exactly as the API server chooses live ones."""

from __future__ import annotations

import pytest

from driftcheck.live.selector import parse_selector, selects
from driftcheck.model import DriftcheckError

WEB = {"metadata": {"labels": {"app": "web", "tier": "frontend", "app.kubernetes.io/part-of": "blog"}}}
DB = {"metadata": {"labels": {"app": "mysql", "tier": "db"}}}
BARE = {"metadata": {"name": "no-labels"}}


@pytest.mark.parametrize("selector, chosen", [
    ("", {"web", "db", "bare"}),
    ("app=web", {"web"}),
    ("app==mysql", {"db"}),
    ("app!=web", {"db", "bare"}),
    ("app in (web, mysql)", {"web", "db"}),
    ("tier notin (db)", {"web", "bare"}),
    ("tier", {"web", "db"}),
    ("!tier", {"bare"}),
    ("app.kubernetes.io/part-of=blog,tier=frontend", {"web"}),
    ("app in (web,mysql),tier!=db", {"web"}),
    (" app = web ", {"web"}),
])
def test_selectors_choose_like_the_api_server(selector: str, chosen: set[str]) -> None:
    requirements = parse_selector(selector)
    objects = {"web": WEB, "db": DB, "bare": BARE}
    assert {name for name, body in objects.items() if selects(requirements, body)} == chosen


@pytest.mark.parametrize("selector", ["app=web,", "app in web", "=web", "app=we b", "app in (a,b c)",
                                      "!app=x"])
def test_a_selector_that_does_not_parse_is_one_clear_error(selector: str) -> None:
    with pytest.raises(DriftcheckError, match="--selector"):
        parse_selector(selector)
