"""Reading kube-apiserver audit logs: JSON lines, rotated and gzip files, and the EKS, GKE and AKS exports.

Every shape becomes one `AuditEvent` holding only what attribution needs: who, from where, with which
client, on which object, with what result and when. Request and response bodies are never kept (at the
RequestResponse level they carry Secret values), so nothing read here can leak one into a report.

Shapes, told apart per JSON value (a file may be JSON lines or one document):
- `audit.k8s.io/v1` Event (the log backend), EventList (the webhook backend);
- EKS: CloudWatch `filter-log-events` output (`events[].message`) and Firehose envelopes
  (`logEvents[].message`), each message one Event;
- GKE: Cloud Logging LogEntry with `protoPayload.serviceName == "k8s.io"` (`gcloud logging read
  --format=json`);
- AKS: diagnostic-settings export (`properties.log`, or `log_s` in AzureDiagnostics) holding one Event, and
  the `AKSAudit`/`AKSAuditAdmin` table rows (PascalCase columns) of `az monitor log-analytics query -o json`.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from driftcheck.model import DriftcheckError

MUTATING = frozenset({"create", "update", "patch"})
# google.rpc codes in GKE entries -> the HTTP status the API server answered with
_RPC_TO_HTTP = {0: 200, 3: 400, 5: 404, 6: 409, 7: 403, 9: 422, 10: 409, 16: 401}


@dataclass(frozen=True)
class AuditEvent:
    """One API request as the audit log recorded it (no bodies)."""

    audit_id: str
    verb: str
    stage: str
    user: str
    groups: tuple[str, ...]
    impersonated_user: str
    impersonated_groups: tuple[str, ...]
    source_ips: tuple[str, ...]
    user_agent: str
    api_group: str
    resource: str
    namespace: str
    name: str
    subresource: str
    code: int  # HTTP status of the response; 0 when the event has none
    received: datetime | None
    completed: datetime | None
    field_manager: str  # the fieldManager query parameter, "" when the request had none
    dry_run: bool
    has_uri: bool  # False for exports that drop requestURI (GKE): fieldManager and dryRun are then unknown
    evidence: str  # file:line, or the cloud log entry's id

    @property
    def object_key(self) -> tuple[str, str, str, str]:
        return (self.api_group, self.resource, self.namespace, self.name)


@dataclass
class LogFile:
    """What one file held: how many events, the time they span, what was not an audit event."""

    path: str
    formats: set[str] = field(default_factory=set)
    events: int = 0
    first: datetime | None = None
    last: datetime | None = None
    skipped: int = 0
    first_skipped: str = ""  # "line 17: not JSON"

    def saw(self, when: datetime | None) -> None:
        self.events += 1
        if when is not None:
            self.first = when if self.first is None or when < self.first else self.first
            self.last = when if self.last is None or when > self.last else self.last


@dataclass
class AuditLog:
    """The events kept (mutations of the objects asked about) and the files with their coverage."""

    events: list[AuditEvent] = field(default_factory=list)
    files: list[LogFile] = field(default_factory=list)

    def covers(self, when: datetime, slack: float) -> bool:
        """Whether any file's span, in whole seconds widened by `slack`, includes `when` (as the match's
        window does: a log that could hold the event covers the time)."""
        return any(f.first is not None and f.last is not None
                   and math.floor(f.first.timestamp()) - slack <= when.timestamp()
                   <= math.ceil(f.last.timestamp()) + slack for f in self.files)


def log_paths(given: Iterable[str | Path]) -> list[Path]:
    """Each --audit-log value as files: a file, every file of a directory (rotated ones too), or a glob."""
    out: list[Path] = []
    for item in given:
        path = Path(item)
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif path.exists():
            out.append(path)
        elif matches := sorted(glob.glob(str(item))):
            out += [Path(m) for m in matches if Path(m).is_file()]
        else:
            raise DriftcheckError(f"--audit-log {item}: no such file or directory")
    return out


def read_audit_logs(paths: Iterable[Path], keep: Callable[[AuditEvent], bool] = lambda _e: True) -> AuditLog:
    """Stream every file; keep the mutating events `keep` accepts; count all of them for coverage."""
    log = AuditLog()
    for path in paths:
        record = LogFile(str(path))
        log.files.append(record)
        for event, fmt in _file_events(path, record):
            record.formats.add(fmt)
            record.saw(event.received or event.completed)
            if event.verb in MUTATING and keep(event):
                log.events.append(event)
    return log


def _file_events(path: Path, record: LogFile) -> Iterator[tuple[AuditEvent, str]]:
    try:
        with path.open("rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rt", encoding="utf-8", errors="replace") if gzipped
              else path.open(encoding="utf-8", errors="replace")) as stream:
            first = ""
            for number, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except ValueError:
                    if not first and line.lstrip()[:1] in "[{":
                        first = line  # one JSON document over many lines (gcloud, az, aws output)
                        yield from _document(path, first + stream.read(), record)
                        return
                    _skip(record, number, "not JSON")
                    continue
                first = first or line
                yield from _value_events(value, f"{path}:{number}", record, number)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DriftcheckError(f"--audit-log {path}: cannot read: {exc}") from None


def _document(path: Path, text: str, record: LogFile) -> Iterator[tuple[AuditEvent, str]]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        _skip(record, exc.lineno if isinstance(exc, json.JSONDecodeError) else 1, "not JSON")
        return
    yield from _value_events(value, str(path), record, 0)


def _skip(record: LogFile, number: int, why: str) -> None:
    record.skipped += 1
    record.first_skipped = record.first_skipped or f"line {number}: {why}"


def _value_events(value: Any, where: str, record: LogFile, number: int) -> Iterator[tuple[AuditEvent, str]]:
    """The events in one JSON value, whatever export wrapped them."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _value_events(item, f"{where}[{i}]", record, number)
        return
    if not isinstance(value, dict):
        _skip(record, number, "not an audit event")
        return
    if value.get("kind") == "Event" and str(value.get("apiVersion", "")).startswith("audit.k8s.io/"):
        yield _k8s_event(value, where), "k8s"
    elif value.get("kind") == "EventList" and isinstance(value.get("items"), list):
        for i, item in enumerate(value["items"]):
            yield from ((e, "k8s") for e, _ in _value_events(item, f"{where}/items[{i}]", record, number))
    elif isinstance(value.get("events"), list) or isinstance(value.get("logEvents"), list):
        entries: list[Any] = value["events"] if isinstance(value.get("events"), list) else value["logEvents"]
        for i, entry in enumerate(entries):
            message = entry.get("message") if isinstance(entry, dict) else None
            locator = f"{where} event {entry.get('eventId') or entry.get('id') or i}" if isinstance(
                entry, dict) else where
            yield from ((e, "eks-cloudwatch") for e, _ in _json_text(message, locator, record, number))
    elif isinstance(value.get("protoPayload"), dict):
        if value["protoPayload"].get("serviceName") == "k8s.io":
            yield _gke_event(value, f"{where} insertId {value.get('insertId', '')}".strip()), "gke-logging"
    elif "log_s" in value or "log" in _dict(value.get("properties")):
        message = value["log_s"] if "log_s" in value else value["properties"]["log"]
        yield from ((e, "aks-diagnostics") for e, _ in _json_text(message, where, record, number))
    elif "AuditId" in value or "RequestUri" in value:
        yield _k8s_event(_from_pascal(value), where), "aks-log-analytics"
    else:
        _skip(record, number, "not an audit event")


def _json_text(message: Any, where: str, record: LogFile, number: int) -> Iterator[tuple[AuditEvent, str]]:
    if isinstance(message, dict):
        yield from _value_events(message, where, record, number)
        return
    try:
        value = json.loads(message) if isinstance(message, str) else None
    except ValueError:
        value = None
    if value is None:
        _skip(record, number, "message is not an audit event")
        return
    yield from _value_events(value, where, record, number)


_PASCAL = {"AuditId": "auditID", "Level": "level", "Stage": "stage", "RequestUri": "requestURI",
           "Verb": "verb", "User": "user", "ImpersonatedUser": "impersonatedUser", "SourceIps": "sourceIPs",
           "UserAgent": "userAgent", "ObjectRef": "objectRef", "ResponseStatus": "responseStatus",
           "RequestReceivedTime": "requestReceivedTimestamp", "StageReceivedTime": "stageTimestamp"}


def _from_pascal(row: dict[str, Any]) -> dict[str, Any]:
    """An AKS Log Analytics row as an Event; dynamic columns may arrive as JSON text."""
    out: dict[str, Any] = {}
    for column, key in _PASCAL.items():
        value = row.get(column)
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        out[key] = value
    return out


def _k8s_event(e: dict[str, Any], where: str) -> AuditEvent:
    ref = _dict(e.get("objectRef"))
    user, imp = _dict(e.get("user")), _dict(e.get("impersonatedUser"))
    uri = str(e.get("requestURI") or "")
    query = parse_qs(urlsplit(uri).query, keep_blank_values=True)
    status = _dict(e.get("responseStatus"))
    return AuditEvent(
        audit_id=str(e.get("auditID") or ""), verb=str(e.get("verb") or ""),
        stage=str(e.get("stage") or ""), user=str(user.get("username") or ""),
        groups=_strings(user.get("groups")), impersonated_user=str(imp.get("username") or ""),
        impersonated_groups=_strings(imp.get("groups")), source_ips=_strings(e.get("sourceIPs")),
        user_agent=str(e.get("userAgent") or ""), api_group=str(ref.get("apiGroup") or ""),
        resource=str(ref.get("resource") or ""), namespace=str(ref.get("namespace") or ""),
        name=str(ref.get("name") or ""), subresource=str(ref.get("subresource") or ""),
        code=_int(status.get("code")), received=parse_time(e.get("requestReceivedTimestamp")),
        completed=parse_time(e.get("stageTimestamp")),
        field_manager=(query.get("fieldManager") or [""])[-1], dry_run="dryRun" in query,
        has_uri=bool(uri), evidence=where)


def _gke_event(entry: dict[str, Any], where: str) -> AuditEvent:
    """A Cloud Audit Logs entry: method `io.k8s.apps.v1.deployments.patch`, resource
    `apps/v1/namespaces/NS/deployments/NAME[/sub]`; no requestURI, so no fieldManager or dryRun."""
    payload = entry["protoPayload"]
    auth, meta = _dict(payload.get("authenticationInfo")), _dict(payload.get("requestMetadata"))
    parts = str(payload.get("resourceName") or "").strip("/").split("/")
    core = parts[0] in ("core", "") or (parts[0][:1] == "v" and parts[0][1:2].isdigit())
    group = "" if core else parts[0]
    rest = parts[2:] if group or parts[0] == "core" else parts[1:]
    namespace = ""
    if len(rest) > 2 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    rpc = _int(_dict(payload.get("status")).get("code"))
    when = parse_time(entry.get("timestamp"))
    return AuditEvent(
        audit_id=str(entry.get("insertId") or ""),
        verb=str(payload.get("methodName") or "").rsplit(".", 1)[-1],
        stage="ResponseComplete", user=str(auth.get("principalEmail") or ""), groups=(),
        impersonated_user="", impersonated_groups=(), source_ips=_strings([meta.get("callerIp")]),
        user_agent=str(meta.get("callerSuppliedUserAgent") or ""), api_group=group,
        resource=rest[0] if rest else "", name=rest[1] if len(rest) > 1 else "",
        namespace=namespace, subresource=rest[2] if len(rest) > 2 else "",
        code=_RPC_TO_HTTP.get(rpc, 500), received=when, completed=when, field_manager="", dry_run=False,
        has_uri=False, evidence=where)


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 (µs or ns, `Z` or an offset) as an aware datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    head, dot, frac = text.partition(".")
    if dot:  # Python reads at most 6 fractional digits
        digits = "".join(c for c in frac if c.isdigit())
        text = f"{head}.{digits[:6]}{frac[len(digits):]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value if v) if isinstance(value, list) else ()


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
