"""RFC 6901 JSON pointers: the path syntax of every difference, ignored field and jsonPointers rule."""

from __future__ import annotations

from typing import Any

Path = tuple[str | int, ...]


class _Absent:
    """Marks a field that is not there at all (distinct from an explicit null)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()


def to_pointer(path: Path) -> str:
    """("metadata", "labels", "a/b") -> "/metadata/labels/a~1b"."""
    return "".join("/" + str(seg).replace("~", "~0").replace("/", "~1") for seg in path)


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """The unescaped segments of a pointer; raises ValueError when it does not start with '/'."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer must start with '/': {pointer!r}")
    return tuple(seg.replace("~1", "/").replace("~0", "~") for seg in pointer[1:].split("/"))


def dig(node: Any, *keys: str) -> Any:
    """node[k1][k2]... through maps only; None where a step is missing or not a map (hostile input)."""
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def mapping(node: Any, *keys: str) -> dict[str, Any]:
    """dig(), but {} unless the result is a map."""
    found = dig(node, *keys)
    return found if isinstance(found, dict) else {}


def get_at(body: Any, path: Path) -> Any:
    """The value at a concrete path (list segments are ints), or ABSENT."""
    node = body
    for seg in path:
        in_map = isinstance(node, dict) and isinstance(seg, str) and seg in node
        in_list = isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node)
        if in_map or in_list:
            node = node[seg]
        else:
            return ABSENT
    return node


class PointerError(ValueError):
    """A pointer that steps into a list that is not there (or past its end)."""


def resolve_pointer(body: Any, segments: tuple[str, ...]) -> Path | None:
    """The concrete path a pointer names in `body`, or None if a map key on the way is absent.

    Raises PointerError when a segment must index a list that is missing or too short, which a
    rule author needs to hear about rather than have silently skipped.
    """
    node = body
    path: list[str | int] = []
    for i, seg in enumerate(segments):
        if isinstance(node, list):
            if not seg.isdigit() or int(seg) >= len(node):
                raise PointerError(f"{to_pointer(tuple(path))} has no item {seg!r} (list of {len(node)})")
            node = node[int(seg)]
            path.append(int(seg))
        elif isinstance(node, dict):
            if seg not in node:
                return None
            node = node[seg]
            path.append(seg)
        elif node is None and i > 0:
            return None
        else:
            raise PointerError(f"{to_pointer(tuple(path))} is a {type(node).__name__}, not a map or list")
    return tuple(path)
