"""ApplicationSet templating: ArgoCD's default `{{param}}` replacement, and the walk over a template.

The default engine is valyala/fasttemplate as `applicationset/utils/utils.go` `Render.Replace` drives it,
reimplemented exactly (it is plain string replacement). `goTemplate: true` strings are Go text/template
and go to `gotemplate.GoTemplates` (Go's engine, in a child); this module only walks the template and
hands every string field and map key to whichever engine the ApplicationSet uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

_TEMPLATED = re.compile(r"{{.*}}")  # ArgoCD's `.*{{.*}}.*`: `.` stops at a newline, as in Go's RE2
_INVALID_DNS = re.compile(r"[^-a-z0-9.]")


class TemplateError(ValueError):
    """A template that does not render (the message says which string and why)."""


def sanitize_name(name: str) -> str:
    """ArgoCD's SanitizeName (`normalize`, `*Normalized` params): lower case, every character outside
    [-a-z0-9.] a '-', at most 253 bytes, '-' and '.' trimmed from both ends."""
    name = _INVALID_DNS.sub("-", name.lower())
    return name.encode("utf-8")[:253].decode("utf-8", "ignore").strip("-.")


def fast_replace(template: str, params: Mapping[str, Any]) -> str:
    """fasttemplate with `{{`/`}}`: each tag's trimmed text names a param; a param that is missing, empty
    or not a string leaves the tag as written, spacing included. A `{{` without a closing `}}` is
    fasttemplate's error."""
    if not _TEMPLATED.search(template):
        return template
    out: list[str] = []
    rest = template
    while True:
        start = rest.find("{{")
        if start < 0:
            out.append(rest)
            return "".join(out)
        out.append(rest[:start])
        rest = rest[start + 2:]
        end = rest.find("}}")
        if end < 0:
            raise TemplateError(f"invalid template: cannot find end tag \"}}}}\" in {template!r}")
        tag, rest = rest[:end], rest[end + 2:]
        value = params.get(tag.strip())
        out.append(value if tag.strip() and isinstance(value, str) else "{{" + tag + "}}")


def strings_of(template: Any) -> list[str]:
    """Every string a render touches in a JSON-like template: string values and map keys, each once."""
    seen: dict[str, None] = {}

    def walk(node: Any) -> None:
        if isinstance(node, str):
            seen[node] = None
        elif isinstance(node, dict):
            for key, value in node.items():
                if value is not None:
                    seen[str(key)] = None
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(template)
    return list(seen)


def replace_deep(template: Any, replace: Callable[[str], str]) -> Any:
    """ArgoCD's deeplyReplace over a JSON-like value: every string and every map key replaced, other
    scalars kept; a map entry whose value is null is dropped, as the Go walk skips nil values."""
    if isinstance(template, str):
        return replace(template)
    if isinstance(template, dict):
        return {replace(str(k)): replace_deep(v, replace) for k, v in template.items() if v is not None}
    if isinstance(template, list):
        return [replace_deep(item, replace) for item in template]
    return template


def go_string(value: Any) -> str:
    """A param value as fasttemplate params hold it: Go's `%v` of the value JSON decoding gives (numbers
    are float64: 123 -> "123", 1000000 -> "1e+06")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, int | float):
        return _go_float(float(value))
    if isinstance(value, list):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_string(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _go_float(value: float) -> str:
    """Go's %v of a float64: the shortest digits, in %e form when the exponent is < -4 or >= 6."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(value)]
    if value == 0:
        return "-0" if repr(value).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    exp10 = len(text) + exponent - 1
    if exp10 < -4 or exp10 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        out = f"{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    else:
        out = format(Decimal(repr(abs(value))).normalize(), "f")
    return ("-" if sign else "") + out
