"""source-controller's artifact filter: fluxcd/pkg sourceignore's patterns, scopes and defaults."""

from __future__ import annotations

import pytest

from driftcheck.flux.sourceignore import Matcher, go_match, load_patterns, read_patterns


@pytest.mark.parametrize(("pattern", "name", "matches"), [
    ("*.yaml", "a.yaml", True), ("*.yaml", "a.yml", False), ("a?c", "abc", True),
    ("[a-c]x", "bx", True), ("[^a-c]x", "bx", False), ("[^a-c]x", "dx", True),
    ("a\\*", "a*", True), ("a\\*", "ab", False), ("[", "[", False), ("[]a]", "a", False),
])
def test_names_match_as_go_filepath_match(pattern: str, name: str, matches: bool) -> None:
    assert go_match(pattern, name) is matches


def test_defaults_only_without_patterns() -> None:
    defaults = Matcher([])
    for path in ("logo.png", "a/b/.sops.yaml", ".github/workflows/ci.yml", "x/.travis.yml", ".git/config"):
        assert defaults.excluded(path), path
    assert not defaults.excluded("apps/deploy.yaml")
    given = Matcher(read_patterns("# only secrets\n\nsecret.yaml\n"))
    assert given.excluded("apps/secret.yaml")
    assert not given.excluded("logo.png")  # any pattern replaces the default list
    assert not given.excluded("a/.sops.yaml")
    assert given.excluded(".git/config") and given.excluded(".gitignore")  # the VCS files stay out


def test_last_match_wins_and_anchored_patterns() -> None:
    m = Matcher(read_patterns("/*\n!/apps/\n!/clusters/\n/apps/**/test/\n"))
    assert m.excluded("README.md") and m.excluded("infrastructure/ns.yaml")
    assert not m.excluded("apps/base/deploy.yaml") and not m.excluded("clusters/prod/apps.yaml")
    assert m.excluded("apps/base/test/fixture.yaml")
    assert not m.excluded("apps/base/test")  # dir-only: a file named test is kept


def test_a_nested_sourceignore_is_scoped_to_its_directory() -> None:
    files = {".sourceignore": "*.md\n", "apps/.sourceignore": "local.yaml\n!KEEP.md\n"}
    m = Matcher(load_patterns(["", "apps", "other"], files.get))
    assert m.excluded("apps/local.yaml") and not m.excluded("other/local.yaml")
    assert m.excluded("other/NOTES.md") and not m.excluded("apps/KEEP.md")
