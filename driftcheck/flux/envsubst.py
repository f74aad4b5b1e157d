"""postBuild substitution exactly as kustomize-controller applies it (fluxcd/pkg `kustomize_varsub.go`).

Per object: skipped when labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` (the
exact value), and when there are no variables unless the strategy is `Always`; otherwise the variable
names are checked, the object is written as YAML as kustomize writes it, Flux's envsubst runs on that
text, and the result is read back, so a plain `${REPLICAS}` that became `3` is an integer afterwards.

The dialect (see envsubst_parse and envsubst_funcs): only `${...}` is an expression, a bare `$var` stays;
`$$` is a literal `$`; `${v:=d}`, `${v:-d}`, `${v=d}` (and `:+ :?`, all the same default: the value if
not empty, else the default) tolerate an unset `v` in strict mode; `${v-d}` is not an operator in Flux
(missing closing brace). Strict mode fails on any other unset variable, naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from driftcheck.flux.envsubst_funcs import EvalError, evaluate
from driftcheck.flux.envsubst_parse import ParseError, parse
from driftcheck.flux.envsubst_yaml import to_yaml
from driftcheck.render.yaml import YAMLStreamError, load_single

SUBSTITUTE_KEY = "kustomize.toolkit.fluxcd.io/substitute"
DISABLED = "disabled"
VAR_NAME = "^[_[:alpha:]][_[:alpha:][:digit:]]*$"  # as Flux spells it in its error
_VAR_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*\Z")  # RE2's [:alpha:] is ASCII


class SubstitutionError(ValueError):
    """A substitution Flux would fail: the message is Flux's; `variable` names an unset one in strict
    mode, `reason` is the envsubst-level cause."""

    def __init__(self, message: str, variable: str | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.variable = variable
        self.reason = reason or message


def substitute_text(text: str, variables: Mapping[str, str], strict: bool) -> str:
    """Flux's `envsubst.Eval` of text: unset variables are empty, or an error in strict mode."""
    def lookup(name: bytes) -> tuple[bytes, bool]:
        key = name.decode("utf-8", "surrogateescape")
        if key in variables:
            return variables[key].encode("utf-8", "surrogateescape"), True
        return b"", not strict

    try:
        out = evaluate(parse(text.encode("utf-8", "surrogateescape")), lookup)
    except ParseError as e:
        raise SubstitutionError(str(e)) from None
    except EvalError as e:
        raise SubstitutionError(str(e), e.variable) from None
    except RecursionError:
        raise SubstitutionError("expressions nested too deeply") from None
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise SubstitutionError("the result is not UTF-8 (a substring or trim cut a multi-byte "
                                "character), which Flux fails to read as YAML") from None


def substitution_disabled(obj: dict[str, Any]) -> bool:
    """`kustomize.toolkit.fluxcd.io/substitute: disabled` as a label or an annotation (exact value, as
    kustomize_varsub.go compares it)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return False
    return any(isinstance(metadata.get(field), dict) and metadata[field].get(SUBSTITUTE_KEY) == DISABLED
               for field in ("labels", "annotations"))


def substitute_object(obj: dict[str, Any], variables: Mapping[str, str], strict: bool, *,
                      always: bool = False) -> dict[str, Any]:
    """One built object after postBuild substitution (`always`: `substituteStrategy: Always`).

    `variables` are the merged substituteFrom and substitute values; Flux removes every newline from each
    value, and so does this. The object is returned unchanged (the same dict) when substitution is
    disabled or skipped, else a new one; SubstitutionError carries Flux's message for the object.
    """
    if substitution_disabled(obj) or not (variables or always):
        return obj
    values = {name: value.replace("\n", "") for name, value in variables.items()}
    for name in values:
        if not _VAR_NAME.match(name):
            raise _object_error(obj, f"'{name}' var name is invalid, must match '{VAR_NAME}'")
    try:
        text = substitute_text(to_yaml(obj), values, strict)
    except SubstitutionError as e:
        raise _object_error(obj, f"variable substitution failed: {e}", e.variable) from None
    try:
        result = load_single(text)
    except YAMLStreamError as e:
        raise _object_error(obj, f"YAMLToJSON: yaml: {e}") from None
    if not isinstance(result, dict):
        raise _object_error(obj, "UnmarshalJSON: the substituted YAML is not an object")
    return result


def _object_error(obj: dict[str, Any], reason: str, variable: str | None = None) -> SubstitutionError:
    """Flux's event text: post build failed for '<Kind.version.group>/<name>': envsubst error: ..."""
    api_version = str(obj.get("apiVersion") or "")
    group, _, version = api_version.rpartition("/")
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    gvk = ".".join((str(obj.get("kind") or "[noKind]"), version or "[noVer]", group or "[noGrp]"))
    name = str((metadata or {}).get("name") or "")
    return SubstitutionError(f"post build failed for '{gvk}/{name}': envsubst error: {reason}", variable,
                             reason)
