"""Writing objects as block YAML that Kubernetes (and any YAML 1.1 reader) reads back to the same JSON."""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.representer import SafeRepresenter
from ruamel.yaml.resolver import VersionedResolver

from driftcheck.render.yaml import dialect


class _DumpResolver(VersionedResolver):
    """The dialect's table, plus dates and sexagesimal numbers: strings any reader could take for
    another type are quoted when written."""

    @property
    def versioned_resolver(self) -> Any:
        return self.yaml_implicit_resolvers


for _tag, _regexp, _first in dialect.IMPLICIT:
    _DumpResolver.add_implicit_resolver_base(_tag, _regexp, list(_first))
_DumpResolver.add_implicit_resolver_base(
    dialect.TIMESTAMP, re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?$"), list("0123456789"))
_DumpResolver.add_implicit_resolver_base(  # sexagesimal (12:30) for YAML 1.1 readers other than Kubernetes
    dialect.INT, re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$"), list("-+0123456789"))

# Characters a literal block or a single-quoted scalar cannot carry as they are (control characters, and
# NEL/LS/PS, which a reader folds as line breaks): such strings are written double-quoted, escaped.
_NEEDS_ESCAPE = re.compile("[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _represent_str(representer: SafeRepresenter, data: str) -> Any:
    if _NEEDS_ESCAPE.search(data):
        style: str | None = '"'
    elif "\n" in data and data[0] not in " \t\n" and "\t" not in data \
            and not any(line != line.rstrip() for line in data.split("\n")):
        style = "|"  # readable configs and scripts; a leading blank or a tab would need an indent indicator
    else:
        style = None
    return representer.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def dump_yaml(body: dict[str, Any]) -> str:
    """One object as block YAML that kubectl reads back to the same JSON: keys in order, ambiguous strings
    quoted (yes, 0755, 1e3, dates), multi-line strings as literal blocks."""
    yaml = YAML(typ="safe", pure=True)  # the C emitter ignores a custom resolver
    yaml.Resolver = _DumpResolver
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.representer.sort_base_mapping_type_on_output = False
    yaml.representer.add_representer(str, _represent_str)
    out = io.StringIO()
    yaml.dump(body, out)
    return out.getvalue()
