"""Prometheus metrics of a run: a textfile for node-exporter's collector, or a push to a Pushgateway.

Series (all labelled with `cluster`): resources by app and status, errors, run duration, the time of the
last successful run, the age of the oldest drift per app, and an info series naming commit and version.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, Gauge, generate_latest, push_to_gateway
from prometheus_client.exposition import basic_auth_handler, default_handler

from driftcheck.kube import tally_apps
from driftcheck.model import STATUSES, DriftcheckError
from driftcheck.report import present
from driftcheck.report.atomic import atomic_write
from driftcheck.scrub import mask_url, register_url, scrub

JOB = "driftcheck"


def registry_for(doc: dict[str, Any], cluster: str,
                 duration_seconds: float | None = None) -> CollectorRegistry:
    """A fresh registry holding this run's series (nothing from the process's default registry)."""
    registry = CollectorRegistry()
    resources = Gauge("driftcheck_resources", "Resources checked, by app and status.",
                      ["cluster", "app", "status"], registry=registry)
    tallies = sorted(tally_apps((a["name"] for a in doc["apps"] if a.get("status") != "skipped"),
                                ((r["app"], r["status"]) for r in doc["resources"]), ()),
                     key=lambda t: t.name)
    apps = [t.name for t in tallies]
    for tally in tallies:
        for status in STATUSES:
            resources.labels(cluster, tally.name, status).set(tally.counts[status])
    errors = Gauge("driftcheck_errors", "Errors in the run (what could not be rendered, read or compared).",
                   ["cluster"], registry=registry)
    errors.labels(cluster).set(len(doc["errors"]))
    oldest = Gauge("driftcheck_oldest_drift_age_seconds",
                   "Age of the oldest current drift of the app (0 when the app is in sync).",
                   ["cluster", "app"], registry=registry)
    now = present.parse_time(doc["generated_at"])
    for app in apps:
        seen = [present.parse_time(r["first_seen"]) for r in doc["resources"]
                if r["app"] == app and r["first_seen"]]
        ages = [(now - s).total_seconds() for s in seen if s and now]
        oldest.labels(cluster, app).set(max([0.0, *ages]))
    if now is not None:
        Gauge("driftcheck_last_success_timestamp_seconds", "When the last run that wrote its reports ran.",
              ["cluster"], registry=registry).labels(cluster).set(now.timestamp())
    if duration_seconds is not None:
        Gauge("driftcheck_run_duration_seconds", "Wall time of the run.", ["cluster"],
              registry=registry).labels(cluster).set(duration_seconds)
    info = Gauge("driftcheck_info", "What the run compared: tool version, Git revision and commit.",
                 ["cluster", "version", "revision", "commit"], registry=registry)
    info.labels(cluster, doc["tool"]["version"], doc["source"]["revision"] or "",
                doc["source"]["commit"] or "").set(1)
    return registry


def write_metrics_file(path: Path, registry: CollectorRegistry) -> Path:
    """Atomic, so the textfile collector never scrapes half a file."""
    return atomic_write(path, generate_latest(registry))


def push(url: str, registry: CollectorRegistry, cluster: str) -> None:
    """Replace this cluster's group on the Pushgateway; failure is one clear error line, which names the
    gateway without the user and password a URL may carry."""
    register_url(url)
    gateway, handler = _with_basic_auth(url)
    try:
        push_to_gateway(gateway, job=JOB, registry=registry, grouping_key={"cluster": cluster}, timeout=30,
                        handler=handler)
    except OSError as exc:
        why = scrub(str(getattr(exc, "reason", None) or exc))
        raise DriftcheckError(f"cannot push metrics to {mask_url(url)}: {why}; the reports were written"
                              ) from exc


def _with_basic_auth(url: str) -> tuple[str, Callable[..., Callable[[], None]]]:
    """`http://user:password@host/` as the gateway without userinfo plus a Basic-auth handler: the
    client would take the userinfo for part of the host name."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, default_handler
    host = parts.netloc.rsplit("@", 1)[1]
    return (urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)),
            partial(basic_auth_handler, username=unquote(parts.username or ""),
                    password=unquote(parts.password or "")))
