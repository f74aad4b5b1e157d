"""Version constraints resolve as ArgoCD resolves targetRevision and chart versions (Masterminds/semver v3.4
semantics; cases from Masterminds' constraint tests and argo-cd util/versions tests)."""

from __future__ import annotations

import time

import pytest

from driftcheck.fetch import semver
from driftcheck.fetch.semver import SemverError, best_match, is_constraint, max_version, parse_constraint

# (constraint, version, satisfied) -- Masterminds constraints_test.go TestConstraintsCheck
CHECKS = [
    ("*", "1.2.3", True),
    ("~0.0.0", "1.2.3", True),
    ("0.x.x", "1.2.3", False),
    ("0.0.x", "1.2.3", False),
    ("0.0.0", "1.2.3", False),
    ("^0.0.0", "1.2.3", False),
    ("= 2.0", "1.2.3", False),
    ("= 2.0", "2.0.0", True),
    ("4.1", "4.1.0", True),
    ("4.1.x", "4.1.3", True),
    ("1.x", "1.4", True),
    ("!=4.1", "4.1.0", False),
    ("!=4.1-alpha", "4.1.0-alpha", False),
    ("!=4.1-alpha", "4.1.1-alpha", False),
    ("!=4.1-alpha", "4.1.0", True),
    ("!=4.1", "5.1.0", True),
    ("!=4.x", "5.1.0", True),
    ("!=4.x", "4.1.0", False),
    ("!=4.1.x", "4.2.0", True),
    ("!=4.2.x", "4.2.3", False),
    (">1.1", "4.1.0", True),
    (">1.1", "1.1.0", False),
    ("<1.1", "0.1.0", True),
    ("<1.1", "1.1.0", False),
    ("<1.1", "1.1.1", False),
    ("<1.x", "1.1.1", False),
    ("<1.x", "0.1.1", True),
    ("<1.x", "2.0.0", False),
    ("<1.1.x", "1.2.1", False),
    ("<1.1.x", "1.1.500", False),
    ("<1.1.x", "1.0.500", True),
    ("<1.2.x", "1.1.1", True),
    (">=1.1", "4.1.0", True),
    (">=1.1", "4.1.0-beta", False),
    (">=1.1", "1.1.0", True),
    (">=1.1", "0.0.9", False),
    ("<=1.1", "0.1.0", True),
    ("<=1.1", "0.1.0-alpha", False),
    ("<=1.1-a", "0.1.0-alpha", True),
    ("<=1.1", "1.1.0", True),
    ("<=1.x", "1.1.0", True),
    ("<=2.x", "3.0.0", False),
    ("<=1.1", "1.1.1", True),
    ("<=1.1.x", "1.2.500", False),
    ("<=4.5", "3.4.0", True),
    ("<=4.5", "3.7.0", True),
    ("<=4.5", "4.6.3", False),
    (">1.1, <2", "1.1.1", False),
    (">1.1, <2", "1.2.1", True),
    (">1.1, <3", "4.3.2", False),
    (">=1.1, <2, !=1.2.3", "1.2.3", False),
    (">1.1 <2", "1.1.1", False),
    (">1.1 <2", "1.2.1", True),
    (">1.1    <3", "4.3.2", False),
    (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", True),
    (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", False),
    (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", True),
    (">=1.1, <2, !=1.2.3 || > 3", "3.0.0", False),
    (">=1.1, <2, !=1.2.3 || > 3", "1.2.3", False),
    (">= 1.0.0  <= 2.0.0-beta", "1.0.1-beta", True),
    (">= 1.0.0  <= 2.0.0-beta", "1.0.1", True),
    (">= 1.0.0  <= 2.0.0-beta", "3.0.0", False),
    (">= 1.0.0  <= 2.0.0-beta || > 3", "1.0.1-beta", True),
    (">= 1.0.0  <= 2.0.0-beta || > 3", "3.0.1-beta", False),
    (">= 1.0.0  <= 2.0.0-beta != 1.0.1 || > 3", "1.0.1-beta", True),
    (">= 1.0.0  <= 2.0.0-beta != 1.0.1-beta || > 3", "1.0.1-beta", False),
    (">= 1.0.0-0  <= 2.0.0", "1.0.1-beta", True),
    ("1.1 - 2", "1.1.1", True),
    ("1.5.0 - 4.5", "3.7.0", True),
    ("1.1-3", "4.3.2", False),
    ("^1.1", "1.1.1", True),
    ("^1.1", "4.3.2", False),
    ("^1.x", "1.1.1", True),
    ("^2.x", "1.1.1", False),
    ("^1.x", "2.1.1", False),
    ("^1.x", "1.1.1-beta1", False),
    ("^1.1.2-alpha", "1.2.1-beta1", True),
    ("^1.2.x-alpha", "1.1.1-beta1", False),
    ("^0.0.1", "0.0.1", True),
    ("^0.0.1", "0.3.1", False),
    ("~*", "2.1.1", True),
    ("~1", "2.1.1", False),
    ("~1", "1.3.5", True),
    ("~1", "1.4", True),
    ("~1.x", "2.1.1", False),
    ("~1.x", "1.3.5", True),
    ("~1.x", "1.4", True),
    ("~1.1", "1.1.1", True),
    ("~1.1", "1.1.1-alpha", False),
    ("~1.1-alpha", "1.1.1-beta", True),
    ("~1.1.1-beta", "1.1.1-alpha", False),
    ("~1.1.1-beta", "1.1.1", True),
    ("~1.2.3", "1.2.5", True),
    ("~1.2.3", "1.2.2", False),
    ("~1.2.3", "1.3.2", False),
    ("~1.1", "1.2.3", False),
    ("~1.3", "2.4.5", False),
    ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", True),
    ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", True),
    ("^1.2.x-alpha", "1.2.3-beta1", True),
]


@pytest.mark.parametrize(("constraint", "version", "expected"), CHECKS)
def test_constraint_check(constraint: str, version: str, expected: bool) -> None:
    assert parse_constraint(constraint).check(semver.parse_version(version)) is expected


@pytest.mark.parametrize("text", [
    ">= 1.1", ">40.50.60, < 50.70", "2.0", "v2.3.5-20161202202307-sha.e8fc5e5", "v1.2.3-0abc",
    ">= 1.2.3 < 2.0 || => 3.0 < 4", ">= 1.2.3, < 2.0", "3 - 4 || => 3.0, < 4", "12.3.34 ~1.2.3",
    "1.0.0 - 2.0.0, <=2.0.0", "~> 1.2", "=< 1.2",
])
def test_valid_constraints(text: str) -> None:
    parse_constraint(text)


@pytest.mark.parametrize("text", [
    "v1.2.3-beta.01", ">= bar", "BAR >= 1.2.3", "12.3.4.1234", "12.3.34~ 1.2.3", "", "main", "HEAD",
    "1.2 ||", "1 | 2", "1.2.3.4 ", "V1.2",
])
def test_invalid_constraints(text: str) -> None:
    with pytest.raises(SemverError, match="improper constraint"):
        parse_constraint(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("0.5.3", False), ("v1.2", False), ("1", False), ("2024.03-LTS-RC19", False), ("main", False),
    ("HEAD", False), ("", False), ("release-1.2", False), ("feature/x", False), ("0123abc", False),
    ("= 0.5.3", True), ("> 0.5.3", True), (">0.5.0,<0.7.0", True), ("0.7.*", True), ("*", True),
    ("^1.2", True), (">=1 <2", True), ("1.2.*", True), ("~1", True), ("1.x", True), ("1.2 - 1.4.5", True),
    ("~1 || ^3", True), ("v1.2.x", True),
    ("1.2.3\n", True),  # not a version (no trailing newline), but a constraint: Go's \s takes it
])
def test_is_constraint(text: str, expected: bool) -> None:
    assert is_constraint(text) is expected


TAGS = ["0.7.1", "0.5.4", "0.5.3", "0.7.2", "0.5.2", "0.5.1", "0.5.0", "2024.03-LTS-RC19"]


@pytest.mark.parametrize(("constraint", "expected"), [
    ("> 0.5.3", "0.7.2"), ("> 0.0.0", "0.7.2"),  # 2024.03-LTS-RC19 is a prerelease (-LTS-RC19)
    (">0.5.0,<0.7.0", "0.5.4"), ("0.7.*", "0.7.2"),
    ("~0.5", "0.5.4"), ("^0.5.1", "0.5.4"), ("0.5.1 - 0.5.3", "0.5.3"), ("< 0.5.0 || 0.7.1", "0.7.1"),
    (">= 3", None),
])
def test_best_match_is_the_highest(constraint: str, expected: str | None) -> None:
    assert best_match(constraint, TAGS) == expected


def test_best_match_orders_numerically_and_skips_prereleases() -> None:
    tags = ["v1.9.0", "v1.10.0", "v1.11.0-rc.1", "main", "latest"]
    assert best_match("^1", tags) == "v1.10.0"               # 10 > 9, not string order; rc not wanted
    assert best_match(">=1.11.0-0", tags) == "v1.11.0-rc.1"  # a constraint naming a prerelease takes them
    assert best_match("1.2.3 - 1.9.5 || 1.10.x", ["1.10.0", "v1.10.0"]) == "1.10.0"  # the first of equals


def test_best_match_with_prefix() -> None:
    tags = ["prod/v1.0.0", "prod/v1.0.1", "prod/v1.1.0", "staging/v1.0.0", "staging/v2.0.0", "v3.0.0"]
    assert best_match("v1.0.*", tags, prefix="prod/") == "prod/v1.0.1"
    assert best_match("*", tags, prefix="prod/") == "prod/v1.1.0"
    assert best_match("*", tags, prefix="staging/") == "staging/v2.0.0"
    assert best_match("*", tags) == "v3.0.0"
    assert best_match("*", tags, prefix="qa/") is None


def test_malformed_version_tag_is_an_error_as_in_argocd() -> None:
    with pytest.raises(SemverError, match=r"1\.2\.3-beta\.01"):
        best_match("^1", ["1.0.0", "1.2.3-beta.01"])


def test_max_version_follows_argocd() -> None:
    assert max_version("0.5.3", TAGS) == "0.5.3"
    assert max_version("99.99", []) == "99.99"                       # a pin is not checked against tags
    assert max_version("v1.0.0", [], prefix="prod/") == "prod/v1.0.0"
    assert max_version("> 0.5.3, < 1", TAGS) == "0.7.2"
    assert max_version("stable", ["stable", "1.0.0"]) == "stable"
    with pytest.raises(SemverError, match="found in 8 tags"):
        max_version("0.9.*", TAGS)
    with pytest.raises(SemverError, match="tagPrefix 'prod/' requires"):
        max_version("main", TAGS, prefix="prod/")


def test_hostile_constraint_is_rejected_quickly() -> None:
    start = time.monotonic()
    for text in ("1" + "     1" * 2000 + " !", "1" + " ,1" * 3000 + ",", ">" * 5000 + "1"):
        assert not is_constraint(text)
    assert time.monotonic() - start < 2
