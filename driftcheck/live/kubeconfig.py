"""Choosing and loading cluster credentials (kubeconfig, KUBECONFIG or the Pod's service account) safely.

The official client does the loading, so auth behaves as kubectl users expect; this module fixes what it
does differently from kubectl or unsafely: the bearer token is trimmed of surrounding white space (as
client-go does with `tokenFile`), every credential of the chosen user is registered with
`driftcheck.scrub` so no message can print it, the client's log lines (which copy an exec plugin's
stderr) never reach our stderr raw, and `insecure-skip-tls-verify` is said out loud once.
"""

from __future__ import annotations

import base64
import binascii
import copy
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes.client import Configuration
from kubernetes.config import ConfigException, kube_config

from driftcheck import scrub
from driftcheck.model import DriftcheckError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
IN_CLUSTER_CONTEXT = "in-cluster"
# auth-provider (oidc, gcp, azure) config keys that hold secrets
_PROVIDER_SECRETS = ("access-token", "id-token", "refresh-token", "client-secret")
_CLIENT_LOG = os.sep + os.path.join("kubernetes", "config") + os.sep


class _ClientLog(logging.Filter):
    """Holds back the kubernetes client's config log lines (an exec plugin's stderr among them)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if _CLIENT_LOG not in record.pathname:
            return True
        with self.lock:
            self.messages.append(record.getMessage())
        return False


_HELD = _ClientLog()


class _ParsedFiles:
    """Each kubeconfig parsed once per run, not once per cluster: a fleet's kubeconfig has a context per
    cluster, and parsing it (pure-Python YAML, twice) for each of 20 clusters cost 3 s of the run.
    Keyed by the files' sizes and modification times, so a file changed mid-run is read again."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parsed: dict[tuple[object, ...], tuple[list[tuple[Path, dict[str, Any]]], Any]] = {}

    def get(self, config_file: str,
            paths: list[Path]) -> tuple[list[tuple[Path, dict[str, Any]]], Any]:
        """The files' documents, and the client's merge of them (its ConfigNode, copied per use)."""
        key = (config_file, *((p, s.st_mtime_ns, s.st_size) for p in paths if p.is_file()
                              for s in [p.stat()]))
        with self.lock:
            if key not in self.parsed:
                documents = [(p, yaml.safe_load(p.read_text()) or {}) for p in paths if p.is_file()]
                merged = kube_config.KubeConfigMerger(config_file).config
                if merged is None:
                    raise ConfigException("Invalid kube-config file. No configuration found.")
                self.parsed[key] = documents, merged
            documents, merged = self.parsed[key]
        return documents, copy.deepcopy(merged)


_PARSED = _ParsedFiles()


def load_configuration(kubeconfig: str | None, context: str | None) -> tuple[Configuration, str]:
    """--kubeconfig, else KUBECONFIG, else the Pod's service account, else ~/.kube/config; and the context."""
    if _HELD not in logging.getLogger().filters:
        logging.getLogger().addFilter(_HELD)  # the client logs with logging.error() on the root logger
    configuration = Configuration()
    config_file = kubeconfig or os.environ.get("KUBECONFIG")
    if not config_file and context is None and _in_cluster():
        from kubernetes.config.incluster_config import InClusterConfigLoader

        try:
            loader = InClusterConfigLoader(token_filename=str(SERVICE_ACCOUNT_DIR / "token"),
                                           cert_filename=str(SERVICE_ACCOUNT_DIR / "ca.crt"))
            loader.load_and_set(configuration)
        except ConfigException as exc:
            raise DriftcheckError(f"in-cluster configuration: {scrub.scrub(str(exc))}") from None
        _tidy_bearer(configuration, "the service account token")
        return configuration, IN_CLUSTER_CONTEXT
    config_file = config_file or str(Path("~/.kube/config").expanduser())
    paths = [Path(p).expanduser() for p in config_file.split(os.pathsep) if p]
    if not any(p.is_file() for p in paths):
        raise DriftcheckError(f"no kubeconfig at {config_file} (and not running inside a Pod); "
                              "pass --kubeconfig or --live-snapshot")
    held = len(_HELD.messages)
    try:
        documents, merged = _PARSED.get(config_file, paths)
        names, current = _contexts(documents)
        chosen = context or current
        if not chosen:
            raise DriftcheckError(f"kubeconfig {config_file} has no current context; pass --context "
                                  f"(one of: {', '.join(names) or 'none'})")
        if chosen not in names:
            raise DriftcheckError(f"context {chosen!r} not found in kubeconfig {config_file} "
                                  f"(contexts: {', '.join(names) or 'none'})")
        scrub.register(*_credentials(documents, chosen))
        # what load_kube_config(persist_config=False) does, from the merge already made: never writes
        kube_config.KubeConfigLoader(config_dict=merged, config_base_path=None,
                                     active_context=chosen).load_and_set(configuration)
    except (ConfigException, OSError, ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError) as exc:
        raise DriftcheckError(f"kubeconfig {config_file}: {scrub.scrub(' '.join(str(exc).split()))}") \
            from None
    failures = [m for m in _HELD.messages[held:] if m.startswith("exec")]
    if failures and not configuration.api_key.get("BearerToken") and not configuration.cert_file:
        cause = scrub.scrub(" ".join(failures[0].split(". ", 1)[0].split()))
        raise DriftcheckError(f"kubeconfig {config_file}: context {chosen}: the exec credential plugin "
                              f"failed ({cause}; its output is not shown, it may hold credentials)")
    _tidy_bearer(configuration, f"the token of context {chosen}")
    if configuration.verify_ssl is False and str(configuration.host).startswith("https"):
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        print(f"driftcheck: warning: context {chosen}: insecure-skip-tls-verify is set, the API server's "
              "certificate is not verified", file=sys.stderr)
    return configuration, chosen


def _tidy_bearer(configuration: Configuration, what: str) -> None:
    """Trim the Authorization value now and after every refresh (the client's hook restores it raw)."""
    hook: Callable[[Configuration], None] | None = configuration.refresh_api_key_hook

    def tidy(config: Configuration) -> None:
        value = config.api_key.get("BearerToken")
        if not value:
            return
        scheme, _, token = str(value).partition(" ")
        token = token.strip()
        scrub.register(token)
        if not token.isprintable() or " " in token:
            raise DriftcheckError(f"{what} holds white space or control characters, so it cannot be sent")
        config.api_key["BearerToken"] = f"{scheme} {token}"

    def refreshed(config: Configuration) -> None:
        if hook is not None:
            hook(config)  # the client's hook puts itself back in place: put ours back over it
        config.refresh_api_key_hook = refreshed  # type: ignore[assignment]  # the client types it None
        tidy(config)

    tidy(configuration)
    configuration.refresh_api_key_hook = refreshed  # type: ignore[assignment]


def _contexts(documents: list[tuple[Path, dict[str, Any]]]) -> tuple[list[str], str]:
    """Context names across the files, and the current one (the first file setting it wins, as in kubectl)."""
    names: list[str] = []
    current = ""
    for _, document in documents:
        names += [c["name"] for c in document.get("contexts") or () if c["name"] not in names]
        current = current or str(document.get("current-context") or "")
    return names, current


def _first(documents: list[tuple[Path, dict[str, Any]]], section: str,
           name: str) -> tuple[Path, dict[str, Any]] | None:
    """The first file's entry `name` of `section` (contexts, users): kubectl's merge rule."""
    for path, document in documents:
        for entry in document.get(section) or ():
            if isinstance(entry, dict) and entry.get("name") == name:
                return path, entry
    return None


def _credentials(documents: list[tuple[Path, dict[str, Any]]], context: str) -> list[str]:
    """Every secret the context's user holds: token, tokenFile contents, password, client key, provider
    tokens; registered before the client loads them, so even its own error text is scrubbed."""
    found = _first(documents, "contexts", context)
    user_name = ((found[1].get("context") or {}).get("user") if found else None) or ""
    entry = _first(documents, "users", str(user_name))
    if entry is None:
        return []
    path, user = entry[0], entry[1].get("user") or {}
    values = [str(user.get(k) or "") for k in ("token", "password", "client-key-data")]
    provider = (user.get("auth-provider") or {}).get("config") or {}
    values += [str(provider.get(k) or "") for k in _PROVIDER_SECRETS]
    if user.get("tokenFile"):
        token_file = path.parent / str(user["tokenFile"])
        with open(token_file, errors="replace") as handle:
            values.append(handle.read(65536))
    if user.get("client-key-data"):
        try:
            key = base64.b64decode(str(user["client-key-data"])).decode(errors="replace")
            values += [line for line in key.splitlines() if "-----" not in line]
        except (binascii.Error, ValueError):
            pass  # the client says what is wrong with it
    return values


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST") and os.environ.get("KUBERNETES_SERVICE_PORT")
                and (SERVICE_ACCOUNT_DIR / "token").is_file())
