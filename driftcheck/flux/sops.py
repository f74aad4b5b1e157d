"""SOPS-encrypted objects in Git: kustomize-controller decrypts them before applying, driftcheck cannot.

An object with SOPS metadata (`sops.mac`, what kustomize-controller's decryptor looks for) reaches the
cluster decrypted when its Kustomization has `spec.decryption.provider: sops`. driftcheck holds no key
and never decrypts, so such a core Secret is kept as Flux applies it without `sops`, its `data` and
`stringData` keys with a marker for each value: the keys are compared, the values are not, and the
verdict says why. Another kind encrypted this way is left as written and named in a warning.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from driftcheck.flux.objects import mapping_of
from driftcheck.model import ResourceResult

ENCRYPTED = "<encrypted with SOPS in Git>"
REASON = "SOPS-encrypted in Git (driftcheck does not decrypt): keys compared, values not"
_VALUE_PATH = re.compile(r"^/(data|stringData)/[^/]+$")


def is_encrypted(body: dict[str, Any]) -> bool:
    """Whether body carries SOPS metadata with a MAC, as kustomize-controller's decryptor checks."""
    return "mac" in mapping_of(body.get("sops"))


def is_core_secret(body: dict[str, Any]) -> bool:
    return body.get("apiVersion") == "v1" and body.get("kind") == "Secret"


def keys_only(body: dict[str, Any]) -> dict[str, Any]:
    """A SOPS-encrypted core Secret as compared: no `sops`, every value of data/stringData the marker."""
    kept = {k: v for k, v in body.items() if k not in ("sops", "data", "stringData")}
    keys = [*mapping_of(body.get("data")), *mapping_of(body.get("stringData"))]
    if keys:
        kept["stringData"] = dict.fromkeys(keys, ENCRYPTED)
    return kept


def marked(body: dict[str, Any]) -> bool:
    """Whether body is a Secret keys_only made."""
    values = mapping_of(body.get("stringData"))
    return is_core_secret(body) and bool(values) and set(values.values()) == {ENCRYPTED} \
        and not body.get("data")


def by_keys(result: ResourceResult) -> ResourceResult:
    """result with the value differences of a keys_only Secret dropped (a key on one side only stays)."""
    if result.status not in ("drifted", "in-sync"):
        return replace(result, reason="; ".join(r for r in (result.reason, REASON) if r))
    kept = [d for d in result.diffs
            if not (_VALUE_PATH.match(d.path) and d.desired is not None and d.live is not None)]
    joined = "; ".join(r for r in (result.reason, REASON) if r)
    return replace(result, diffs=kept, status="drifted" if kept else "in-sync", reason=joined)
