"""The desired-authoritative walk: desired vs live (with last-applied and GitOps ownership) -> differences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from driftcheck.compare.canonical import is_empty, scalars_equal
from driftcheck.compare.managedfields import FieldNode, has_member
from driftcheck.compare.mergekeys import find_item, match
from driftcheck.compare.pointer import ABSENT, Path, to_pointer
from driftcheck.kube import BUILTIN_GROUPS
from driftcheck.model import IgnoredField

REMOVED_LAST_APPLIED = "removed from Git, still live (in last-applied-configuration)"
REMOVED_APPLIED_BY = "removed from Git, still live (applied by {})"
NULL_IN_GIT = "null in Git: applying Git removes it"
NOT_IN_GIT_LIST = "not in Git: the list is replaced as a whole on apply"
NOT_LIVE = "in Git, not live"
CUSTOM_LIST = "not in Git: apply replaces a custom resource's lists as a whole"


@dataclass
class Difference:
    """A difference before attribution: `path` in Git's positions, `live_path` in the live object's."""

    path: Path
    live_path: Path | None
    desired: Any
    live: Any
    note: str = ""


Owned = list[tuple[str, FieldNode | None]]


@dataclass
class Walker:
    """Walks desired and live in step, with the last-applied configuration and GitOps-owned fields."""

    group: str
    kind: str
    ignore_desired: dict[Path, str] = field(default_factory=dict)  # desired-side path -> rule id
    ignore_live: dict[Path, str] = field(default_factory=dict)  # live-side path -> rule id
    # who last wrote a live path (managedFields), and which of them are the GitOps tool
    writer: Callable[[Path], str | None] = lambda _path: None
    gitops: frozenset[str] = frozenset()
    diffs: list[Difference] = field(default_factory=list)
    ignored: list[IgnoredField] = field(default_factory=list)

    def run(self, desired: Any, live: Any, applied: Any, owned: Owned) -> None:
        self.walk(desired, live, applied, owned, (), (), (), "")

    def _dropped_zero(self, d: Any) -> bool:
        """"", 0 and false in Git: not stored for built-in kinds' omitempty fields (hostNetwork: false)."""
        zero = d == "" or (not isinstance(d, dict | list) and d in (0, False))
        return self.group in BUILTIN_GROUPS and zero

    def _rule_below(self, live_path: Path | None) -> bool:
        """Whether an ignore rule names something inside this live node (then it is walked key by key)."""
        if live_path is None:
            return False
        n = len(live_path)
        return any(len(p) > n and p[:n] == live_path for p in self.ignore_live)

    def walk(self, d: Any, lv: Any, la: Any, owned: Owned, path: Path, live_path: Path | None,
             names: tuple[str, ...], forced: str) -> None:
        """`forced`, when set, is the note for live-only content here: drift whatever last-applied says."""
        rule = (self.ignore_desired.get(path) if d is not ABSENT else None) or (
            self.ignore_live.get(live_path) if lv is not ABSENT and live_path is not None else None)
        if rule:
            probe = Walker(self.group, self.kind, writer=self.writer, gitops=self.gitops)
            probe.walk(d, lv, la, owned, path, live_path, names, forced)
            if probe.diffs:
                where = live_path if lv is not ABSENT and live_path is not None else path
                self.ignored.append(IgnoredField(to_pointer(where), rule))
            return
        if not (isinstance(d, dict) and isinstance(lv, dict)) and is_empty(lv):  # (is_empty scans a subtree)
            if not is_empty(d) and not (lv is ABSENT and self._dropped_zero(d)):
                self._add(path, live_path, d, None if lv is ABSENT else lv, NOT_LIVE)
            return
        if isinstance(d, dict) and isinstance(lv, dict):
            for key in [*d, *(k for k in lv if k not in d)]:
                self.walk(d.get(key, ABSENT), lv.get(key, ABSENT), _child(la, key),
                          [(m, n.fields.get(key) if n else None) for m, n in owned],
                          (*path, key), _extend(live_path, key), (*names, key), forced)
        elif isinstance(d, list) and isinstance(lv, list):  # `[]` in Git empties an atomic list on apply
            self._lists(d, lv, la, owned, path, live_path, names, forced)
        elif is_empty(d):
            # ArgoCD round-trips built-in kinds through their Go types, which drop nulls (and the server
            # re-defaults what a null removes); a custom resource keeps them, and apply removes the field.
            null_note = NULL_IN_GIT if d is None and self.group not in BUILTIN_GROUPS else ""
            self._live_only(lv, la, owned, path, live_path, names, null_note or forced)
        elif isinstance(d, dict | list) or isinstance(lv, dict | list) or not scalars_equal(d, lv, names):
            self._add(path, live_path, d, lv)

    def _lists(self, d: list[Any], lv: list[Any], la: Any, owned: Owned, path: Path, live_path: Path | None,
               names: tuple[str, ...], forced: str) -> None:
        """Items by merge key or position; inside a custom resource's list items nothing is a default."""
        matching = match(names, self.group, self.kind, d, lv)
        strict = self._strict_list(names, live_path)
        for di, li in matching.pairs:
            dv = d[di] if di is not None else ABSENT
            item = lv[li] if li is not None else ABSENT
            la_item = ABSENT
            if isinstance(la, list):
                like, pos = (dv, di) if di is not None else (item, li)
                found = find_item(names, self.group, self.kind, la, like, pos or 0)
                la_item = la[found] if found is not None else ABSENT
            child_owned = [(m, n.item(item, li) if n and li is not None else None) for m, n in owned]
            seg = di if di is not None else li
            assert seg is not None, "every matched pair has a Git or a live side"
            child_forced = forced or (CUSTOM_LIST if strict else "")
            if matching.atomic and di is None:
                child_forced = NOT_IN_GIT_LIST
            self.walk(dv, item, la_item, child_owned, (*path, seg),
                      _extend(live_path, li) if li is not None else None, names, child_forced)

    def _strict_list(self, names: tuple[str, ...], live_path: Path | None) -> bool:
        """Whether live-only content in this list's items is drift: a custom resource's spec lists are
        replaced whole on apply, so extra content came later — unless the GitOps tool itself wrote the
        list last, in which case it is what the CRD's schema defaulted on apply (Gateway API, ...)."""
        if self.group in BUILTIN_GROUPS or names[:1] == ("metadata",):  # finalizers merge as a set
            return False
        return live_path is None or self.writer(live_path) not in self.gitops

    def _live_only(self, lv: Any, la: Any, owned: Owned, path: Path, live_path: Path | None,
                   names: tuple[str, ...], forced: str) -> None:
        """A field Git does not set: drift only if Git asked for it gone, or the GitOps side once set it."""
        owned_here = [(m, n) for m, n in owned if n is not None]
        partly_owned = any(n.fields for _, n in owned_here)
        if isinstance(lv, dict):
            whole = forced or (isinstance(la, dict) and lv.keys() <= la.keys()) or any(
                n.fields.keys() >= lv.keys() for _, n in owned_here)
            descend = (forced or isinstance(la, dict) or partly_owned) and (
                not whole or self._rule_below(live_path))
        else:
            descend = False
        if descend:
            for key in lv:
                self.walk(ABSENT, lv[key], _child(la, key), [(m, n.fields.get(key)) for m, n in owned_here],
                          (*path, key), _extend(live_path, key), (*names, key), forced)
            return
        if forced:
            self._add(path, live_path, None, lv, forced)
        elif not is_empty(la):
            self._add(path, live_path, None, lv, REMOVED_LAST_APPLIED)
        else:
            managers = sorted({m for m, n in owned_here if has_member(n)})
            if managers:
                self._add(path, live_path, None, lv, REMOVED_APPLIED_BY.format(", ".join(managers)))

    def _add(self, path: Path, live_path: Path | None, desired: Any, live: Any, note: str = "") -> None:
        self.diffs.append(Difference(path, live_path, None if desired is ABSENT else desired,
                                     None if live is ABSENT else live, note))


def _extend(path: Path | None, seg: str | int) -> Path | None:
    return (*path, seg) if path is not None else None


def _child(node: Any, key: str) -> Any:
    return node.get(key, ABSENT) if isinstance(node, dict) else ABSENT

