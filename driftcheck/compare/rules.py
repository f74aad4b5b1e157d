"""Ignore rules: ArgoCD ignoreDifferences from packs, files, driftcheck.yaml and Applications."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path as FsPath
from typing import Any

import jsonschema

from driftcheck.compare import jqeval
from driftcheck.compare.pointer import Path, PointerError, parse_pointer, resolve_pointer
from driftcheck.model import App, DriftcheckError, ResourceKey, RunError
from driftcheck.render.yaml import YAMLStreamError, load_single

APP_PREFIX = "app:"


def packs_dir() -> FsPath:
    """Shipped packs: the top-level `rules/`, through the `driftcheck/rules` symlink (a copy in a wheel)."""
    return FsPath(str(resources.files("driftcheck") / "rules"))


def available_packs() -> list[str]:
    return sorted(p.stem for p in packs_dir().glob("*.yaml"))


@cache
def _validator() -> jsonschema.protocols.Validator:
    """Checks one rule (the schema's `$defs/rule`), so each bad entry is reported by its own index."""
    schema = json.loads((FsPath(__file__).parent / "rules.schema.json").read_text())
    return jsonschema.Draft202012Validator({"$ref": "#/$defs/rule", "$defs": schema["$defs"]})


class RuleError(ValueError):
    """A rule that could not be applied to an object (jq error, pointer into a missing list)."""


class RuleUnfinished(RuleError):
    """A jq expression that did not finish within its time limit: what it would ignore is unknown."""


@dataclass(frozen=True)
class Rule:
    """One ignoreDifferences entry. `id` is stable and readable: `argo-rollouts#0`, `app:blog#1`."""

    id: str
    kind: str
    group: str = ""
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    jq_paths: tuple[str, ...] = ()
    managers: tuple[str, ...] = ()
    derived_from: str = ""
    source: str = ""  # the file (or config source) the rule came from
    index: int = 0  # position in that source, as error messages and the id give it
    app: str = ""  # only for this app, when set
    # Flux targets (`fluxTarget`): (field, regex) pairs matched whole against the key, as Flux anchors them
    regex_target: tuple[tuple[str, str], ...] = ()
    spec: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def selects_kind(self, group: str, kind: str) -> bool:
        """ArgoCD's matching of group and kind: globs, `*` for any."""
        return fnmatch.fnmatchcase(group, self.group) and fnmatch.fnmatchcase(kind, self.kind)

    def selects(self, key: ResourceKey) -> bool:
        """ArgoCD's matching: group and kind (see selects_kind); name and namespace when given."""
        return self.selects_kind(key.group, key.kind) and self.selects_object(key)

    def selects_object(self, key: ResourceKey) -> bool:
        """The name and namespace globs (when given) and Flux's regex targets, for a key of a kind
        selects_kind matched."""
        return ((not self.name or fnmatch.fnmatchcase(key.name, self.name))
                and (not self.namespace or fnmatch.fnmatchcase(key.namespace, self.namespace))
                and all(re.fullmatch(f"(?:{pattern})", getattr(key, field)) for field, pattern
                        in self.regex_target))

    def paths(self, body: Any, variables: dict[str, Any]) -> list[Path]:
        """Concrete paths this rule names in `body` (jsonPointers and jqPathExpressions)."""
        [found] = self.paths_each([body], variables)
        if isinstance(found, RuleError):
            raise found
        return found

    def paths_each(self, bodies: list[Any], variables: dict[str, Any]) -> list[list[Path] | RuleError]:
        """`paths` for several bodies, with each jq expression evaluated for all of them in one request.

        jq runs in a child with a deadline (compare.jqeval); an expression that misses it is a RuleError
        for every body, and is not tried again in this process (a loop does not end the next time either).
        """
        out: list[list[Path] | RuleError] = [self._pointer_paths(body) for body in bodies]
        for expr in self.jq_paths:
            for i, found in enumerate(self._jq_paths(expr, bodies, variables)):
                current = out[i]
                if isinstance(current, RuleError):
                    continue
                out[i] = found if isinstance(found, RuleError) else current + found
        return out

    def _pointer_paths(self, body: Any) -> list[Path] | RuleError:
        out: list[Path] = []
        for pointer in self.json_pointers:
            try:
                path = resolve_pointer(body, parse_pointer(pointer))
            except (PointerError, ValueError) as exc:
                return RuleError(f"jsonPointer {pointer}: {exc}")
            if path is not None:
                out.append(path)
        return out

    def _jq_paths(self, expr: str, bodies: list[Any],
                  variables: dict[str, Any]) -> list[list[Path] | RuleError]:
        if expr not in _STUCK:
            try:
                results = jqeval.paths(expr, variables, bodies)
            except jqeval.JqTimeout:
                _STUCK.add(expr)
        if expr in _STUCK:
            stuck = (f"jq rule #{self.index} in {self.source} did not finish within {jqeval.TIMEOUT:g} s "
                     f"(jqPathExpression {expr!r}; a loop?): not applied")
            return [RuleUnfinished(stuck) for _ in bodies]
        out: list[list[Path] | RuleError] = []
        for found in results:
            if isinstance(found, jqeval.JqError):
                out.append(RuleError(f"jqPathExpression {expr!r}: {found}"))
            elif len(found) > jqeval.MAX_PATHS:
                out.append(RuleError(f"jqPathExpression {expr!r}: more than {jqeval.MAX_PATHS} paths "
                                     "(a loop?)"))
            else:
                out.append([tuple(p) for p in found if isinstance(p, list)])
        return out


# jq expressions that missed the deadline in this process: not tried again (a loop loops again)
_STUCK: set[str] = set()


def of_kind(cache: dict[tuple[str, str], list[Rule]], rules: list[Rule], key: ResourceKey) -> list[Rule]:
    """The rules that may select objects of key's group and kind: each rule's globs are matched once per
    kind, not once per object (20,000 objects under a few dozen rules made it a tenth of the comparison)."""
    found = cache.get(key.group_kind)
    if found is None:
        found = cache[key.group_kind] = [r for r in rules if r.selects_kind(key.group, key.kind)]
    return found


@dataclass
class RuleSet:
    """The rules of a run, the packs they came from, and what the run learnt about them."""

    rules: list[Rule] = field(default_factory=list)
    packs: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    app: str = ""  # set on the view for_app() returns: only global rules and this app's apply
    _errors: list[RunError] = field(default_factory=list)
    _error_keys: set[tuple[str, str, str]] = field(default_factory=set)
    _apps_loaded: set[str] = field(default_factory=set)  # apps whose own rules are in `rules`

    def fresh(self) -> RuleSet:
        """A RuleSet of the same rules with nothing learnt (each cluster of a fleet run gets one); of a
        RuleSet no app has used yet, so it holds no app's own rules."""
        return RuleSet(list(self.rules), list(self.packs))

    def for_app(self, app: App) -> RuleSet:
        """A view for one app: global rules plus its own `ignore` rules (loaded on first use).

        The view shares rules, usage and errors with the run's RuleSet, so `unused()` and
        `errors()` stay whole-run answers.
        """
        if app.ignore and app.name not in self._apps_loaded:
            rules, errors = parse_rules([dict(r.spec) for r in app.ignore], APP_PREFIX + app.name,
                                        app=app.name, file=str(app.defined_by))
            self.rules.extend(rules)
            self._errors.extend(errors)
        self._apps_loaded.add(app.name)
        return RuleSet(self.rules, self.packs, self.used, app.name, self._errors, self._error_keys,
                       self._apps_loaded)

    def applicable(self) -> list[Rule]:
        return [r for r in self.rules if not r.app or r.app == self.app]

    def errors(self) -> list[RunError]:
        """Rules that failed to apply during the run (and app rules that failed to load)."""
        return list(self._errors)

    @property
    def digest(self) -> str:
        """sha256 over the canonical rule content, so a report says exactly which rules were applied."""
        content = [{"id": r.id, "rule": r.spec} for r in self.rules]
        return "sha256:" + hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    def unused(self) -> list[str]:
        """Rule ids that matched no field of any compared object in the whole run."""
        return [r.id for r in self.rules if r.id not in self.used]

    def error(self, rule: Rule, key: ResourceKey, message: str, app: str = "") -> None:
        """Record a rule that failed to apply, once per rule, object and message."""
        mark = (rule.id, str(key), message)
        if mark in self._error_keys:
            return
        self._error_keys.add(mark)
        self._errors.append(RunError(f"ignore rule {rule.id}: {message}", app=app, file=rule.source,
                                    resource=str(key), stage="rules"))


def parse_rules(entries: Any, source: str, *, app: str = "",
                file: str = "") -> tuple[list[Rule], list[RunError]]:
    """Validate and build rules; an invalid entry is an error naming the source and its index."""
    doc = entries
    items = doc.get("ignoreDifferences") if isinstance(doc, dict) else doc
    errors: list[RunError] = []
    if not isinstance(items, list) or (isinstance(doc, dict) and set(doc) != {"ignoreDifferences"}):
        errors.append(RunError("not a list of ignoreDifferences rules (expected a list, or a mapping with "
                               f"only ignoreDifferences: [...]), got {str(doc)[:100]}",
                               file=file or source, app=app, stage="rules"))
        return [], errors
    bad: set[int] = set()
    for index, spec in enumerate(items):
        problems = sorted(_validator().iter_errors(spec), key=lambda e: list(e.absolute_path))
        if problems:
            bad.add(index)
            errors.append(RunError(f"rule #{index} is invalid: {_schema_message(problems[0])}",
                                   file=file or source, app=app, stage="rules"))
    rules: list[Rule] = []
    for index, spec in enumerate(items or []):
        if index in bad:
            continue
        rule = Rule(id=f"{source}#{index}", kind=str(spec["kind"]), group=str(spec.get("group") or ""),
                    name=str(spec.get("name") or ""), namespace=str(spec.get("namespace") or ""),
                    json_pointers=tuple(spec.get("jsonPointers") or ()),
                    jq_paths=tuple(spec.get("jqPathExpressions") or ()),
                    managers=tuple(spec.get("managedFieldsManagers") or ()),
                    derived_from=str(spec.get("derivedFrom") or ""), source=file or source, index=index,
                    app=app, regex_target=tuple(sorted((spec.get("fluxTarget") or {}).items())),
                    spec=json.loads(json.dumps(spec)))
        problem = _compile_problem(rule)
        if problem:
            errors.append(RunError(f"rule #{index} is invalid: {problem}", file=file or source, app=app,
                                   stage="rules"))
            continue
        rules.append(rule)
    return rules, errors


def _schema_message(err: jsonschema.ValidationError) -> str:
    """The validator's message, prefixed with the field inside the rule it is about."""
    where = "/".join(str(p) for p in err.absolute_path)
    return (f"{where}: {err.message}" if where else err.message)[:300]


def _compile_problem(rule: Rule) -> str:
    for name, pattern in rule.regex_target:
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"fluxTarget {name} {pattern[:60]!r} is not a regex: {exc}"
    for pointer in rule.json_pointers:
        try:
            parse_pointer(pointer)
        except ValueError as exc:
            return str(exc)
    for expr in rule.jq_paths:
        problem = jqeval.compile_problem(expr, {"routes": []} if rule.derived_from else {})
        if problem:
            return f"jqPathExpression {expr!r} does not compile: {problem}"
    return ""


def _read_yaml(path: FsPath) -> tuple[Any, RunError | None]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DriftcheckError(f"cannot read rules file {path}: {exc}") from None
    return _parse_yaml(text, str(path))


def _parse_yaml(text: str | bytes, file: str) -> tuple[Any, RunError | None]:
    try:
        return load_single(text), None  # typed as Kubernetes types manifests
    except YAMLStreamError as exc:
        return None, RunError(f"not valid YAML: {exc.problem}", file=file, line=exc.line, stage="rules")


Extra = list[tuple[str, Any]]


def load_rules(packs: list[str], files: list[FsPath], extra: Extra) -> tuple[RuleSet, list[RunError]]:
    """Load shipped packs by name, rule files (or directories of them) and further sources.

    `extra` holds (source, content): content is YAML text (bytes or str; a rule file read from Git,
    `source` its path) or an already parsed ignoreDifferences list (`source` is then the id prefix;
    `app:<name>` sources apply to that app only). A missing pack or file ends the command
    (DriftcheckError); a bad rule is a RunError naming the file and the rule's index, and the other
    rules still apply.
    """
    ruleset = RuleSet()
    errors: list[RunError] = []
    known = available_packs()
    taken: set[str] = set()

    def add(doc: Any, err: RunError | None, source: str, file: str, app: str = "") -> None:
        prefix = _unique(source, file, taken)
        rules, errs = ([], [err]) if err else parse_rules(doc, prefix, app=app, file=file)
        ruleset.rules.extend(rules)
        errors.extend(errs)

    for pack in packs:
        if pack not in known:
            raise DriftcheckError(f"unknown rule pack {pack!r} (available: {', '.join(known)})")
        add(*_read_yaml(packs_dir() / f"{pack}.yaml"), pack, f"rules/{pack}.yaml")
        ruleset.packs.append(pack)
    for given in files:
        if not given.exists():
            raise DriftcheckError(f"rules file not found: {given}")
        paths = sorted([*given.glob("*.yaml"), *given.glob("*.yml")]) if given.is_dir() else [given]
        for path in paths:
            add(*_read_yaml(path), f"file:{path.name}", str(path))
    for source, content in extra:
        if isinstance(content, bytes | str):
            add(*_parse_yaml(content, source), f"file:{FsPath(source).name}", source)
        else:
            app = source[len(APP_PREFIX):] if source.startswith(APP_PREFIX) else ""
            add(content, None, source, "", app)
            if app:
                ruleset._apps_loaded.add(app)
    return ruleset, errors


def _unique(source: str, file: str, taken: set[str]) -> str:
    """The id prefix of a source; two files with one name are told apart by their path."""
    prefix = source if source not in taken else f"file:{file}"
    taken.add(prefix)
    return prefix


def add_system_rules(ruleset: RuleSet, sources: list[tuple[str, str, dict[str, Any]]]) -> list[RunError]:
    """ArgoCD's system-wide rules (argocd-cm resource.customizations) into the run's RuleSet: each
    (id prefix, origin, spec) becomes `<prefix>#0`, its file the origin ("argocd-cm key X (file:line)")."""
    errors: list[RunError] = []
    for prefix, origin, spec in sources:
        rules, errs = parse_rules([spec], prefix, file=origin)
        ruleset.rules.extend(rules)
        errors.extend(errs)
    return errors
