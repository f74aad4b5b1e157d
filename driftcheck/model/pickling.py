"""Dataclasses pickled as their constructor's arguments (driftcheck.forked sends thousands of results per
cluster from a worker): pickle's default, a state dict per object, took twice as long each way."""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, TypeVar

T = TypeVar("T")


def by_fields(cls: type[T]) -> type[T]:
    """Give a dataclass whose fields are all constructor arguments a `__reduce__` of their values."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if len(fields) < 2 or not all(f.init for f in fields):
        raise TypeError(f"{cls.__name__}: by_fields needs two or more fields, all set by __init__")
    values = operator.attrgetter(*(f.name for f in fields))

    def reduce(self: Any) -> tuple[type[T], tuple[Any, ...]]:
        return cls, values(self)

    setattr(cls, "__reduce__", reduce)  # noqa: B010 - a method on the class, not an attribute of it
    return cls
