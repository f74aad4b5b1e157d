"""fastjson.loads gives json.loads's value whichever parser it takes, and json's error when it is not JSON."""

from __future__ import annotations

import json
import math

import pytest

from driftcheck import fastjson


@pytest.mark.parametrize("text", [
    '{"items": [{"metadata": {"name": "a", "labels": {"x": "é"}}, "data": {"n": 1.5}}]}',
    '{"replicas": 123456789012345678901234567890}',  # beyond 64 bits: orjson would make it a float
    '{"big": 18446744073709551616, "small": -9223372036854775809}',
    '{"s": "\\ud800"}',  # a lone surrogate escape: orjson refuses it, json.loads takes it
    '{"a": 1, "a": 2}',
])
def test_the_value_is_json_loads_value(text: str) -> None:
    for given in (text, text.encode("utf-8", "surrogatepass")):
        value = fastjson.loads(given)
        assert value == json.loads(text) and type(value) is type(json.loads(text))
        assert repr(value) == repr(json.loads(text))  # an int stays an int, exactly


def test_nan_is_taken_as_json_loads_takes_it() -> None:
    assert math.isnan(fastjson.loads(b'{"x": NaN}')["x"])


def test_what_is_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        fastjson.loads(b"<html>proxy error</html>")
