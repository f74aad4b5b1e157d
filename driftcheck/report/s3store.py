"""One S3 bucket and prefix as write-once storage: every object created once (`If-None-Match: *`) under
Object Lock retention, read back with its lock headers, listed with its versions and delete markers.

Credentials come from boto3's standard chain (environment, profile, web identity / IRSA, instance role);
the endpoint from `--s3-endpoint`, else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (boto3 reads them). The
secret key and session token are registered with the scrubber before the first request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from driftcheck import scrub
from driftcheck.model import DriftcheckError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MODES = ("COMPLIANCE", "GOVERNANCE")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Target:
    """`s3://bucket/prefix`: keys are `prefix/<rest>` ("" prefix: the bucket's root)."""

    bucket: str
    prefix: str

    def key(self, rest: str) -> str:
        return f"{self.prefix}/{rest}" if self.prefix else rest

    def url(self, rest: str = "") -> str:
        key = self.key(rest) if rest else self.prefix
        return f"s3://{self.bucket}/{key}" if key else f"s3://{self.bucket}"


@dataclass(frozen=True)
class Retention:
    mode: str  # COMPLIANCE | GOVERNANCE
    days: int


@dataclass(frozen=True)
class Version:
    key: str
    version_id: str
    latest: bool
    delete_marker: bool
    modified: datetime | None


@dataclass(frozen=True)
class Lock:
    """What HeadObject says of one object's current version."""

    mode: str  # "" when the version has no retention
    until: datetime | None
    version_id: str


class Taken(Exception):
    """The key already exists: another run created it first (HTTP 412)."""


def is_s3_url(text: str) -> bool:
    return text.startswith("s3://")


def parse_url(url: str) -> S3Target:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not BUCKET.match(bucket):
        raise DriftcheckError(f"{url}: not an S3 URL of the form s3://bucket/prefix (bucket {bucket!r})")
    prefix = prefix.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise DriftcheckError(f"{url}: the prefix has an empty, '.' or '..' part")
    return S3Target(bucket, prefix)


class S3Store:
    """The bucket, through one boto3 client; every failure is a DriftcheckError naming the s3:// URL."""

    def __init__(self, target: S3Target, endpoint: str | None = None, timeout: float = 30.0) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise DriftcheckError("S3 output needs boto3: pip install 'driftcheck[s3]'") from exc
        if endpoint:
            scrub.register_url(endpoint)
        self.target = target
        session = boto3.session.Session()
        credentials = session.get_credentials()
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            scrub.register(frozen.secret_key, frozen.token)
        config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 3})
        self.client: S3Client = session.client("s3", endpoint_url=endpoint or None, config=config)

    def require_object_lock(self) -> None:
        """Refuse a bucket without Object Lock: its objects could be deleted or overwritten at will."""
        try:
            found = self.client.get_object_lock_configuration(Bucket=self.target.bucket)
        except Exception as exc:
            if _code(exc) == "ObjectLockConfigurationNotFoundError":
                raise DriftcheckError(
                    f"s3://{self.target.bucket}: Object Lock is not enabled on this bucket, so its reports "
                    "could be deleted or overwritten; use a bucket created with Object Lock "
                    "(aws s3api create-bucket --object-lock-enabled-for-bucket)") from exc
            raise self._error("read the Object Lock configuration of", "", exc) from exc
        if found.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise DriftcheckError(f"s3://{self.target.bucket}: Object Lock is not enabled on this bucket")

    def put_new(self, rest: str, data: bytes, retention: Retention | None, until: datetime) -> str:
        """Create the object (never replace one); -> its version id. Taken when it already exists."""
        extra: dict[str, Any] = {}
        if retention is not None:
            extra = {"ObjectLockMode": retention.mode, "ObjectLockRetainUntilDate": until}
        try:
            done = self.client.put_object(Bucket=self.target.bucket, Key=self.target.key(rest), Body=data,
                                          IfNoneMatch="*", ChecksumAlgorithm="SHA256", **extra)
        except Exception as exc:
            if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
                raise Taken(self.target.url(rest)) from exc
            raise self._error("write", rest, exc) from exc
        return str(done.get("VersionId") or "")

    def get(self, rest: str) -> bytes | None:
        """The object's bytes, or None when there is none (or a delete marker hides it)."""
        try:
            return self.client.get_object(Bucket=self.target.bucket, Key=self.target.key(rest))["Body"].read()
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise self._error("read", rest, exc) from exc

    def keys(self, rest: str) -> list[str]:
        """Every current key under prefix/rest, relative to the prefix, sorted."""
        start = len(self.target.key("")) if self.target.prefix else 0
        found = []
        for page in self._pages("list_objects_v2", rest, "Contents"):
            found += [item["Key"][start:] for item in page]
        return sorted(found)

    def versions(self, rest: str) -> list[Version]:
        """Every version and delete marker under prefix/rest (keys relative to the prefix)."""
        start = len(self.target.key("")) if self.target.prefix else 0
        found = []
        for kind, marker in (("Versions", False), ("DeleteMarkers", True)):
            for page in self._pages("list_object_versions", rest, kind):
                found += [Version(item["Key"][start:], str(item.get("VersionId") or ""),
                                  bool(item.get("IsLatest")), marker, item.get("LastModified"))
                          for item in page]
        return found

    def lock(self, rest: str) -> Lock | None:
        """HeadObject's lock headers (GetObjectRetention is not served by every S3-compatible store)."""
        try:
            head = self.client.head_object(Bucket=self.target.bucket, Key=self.target.key(rest))
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise self._error("read", rest, exc) from exc
        return Lock(str(head.get("ObjectLockMode") or ""), head.get("ObjectLockRetainUntilDate"),
                    str(head.get("VersionId") or ""))

    def _pages(self, operation: str, rest: str, field: str) -> Iterator[list[dict[str, Any]]]:
        paginator = self.client.get_paginator(operation)  # type: ignore[call-overload]
        try:
            for page in paginator.paginate(Bucket=self.target.bucket, Prefix=self.target.key(rest)):
                yield page.get(field) or []
        except Exception as exc:
            raise self._error("list", rest, exc) from exc

    def _error(self, doing: str, rest: str, exc: Exception) -> DriftcheckError:
        code = _code(exc)
        why = f"{code}: {_message(exc)}" if code else str(exc)
        return DriftcheckError(f"cannot {doing} {self.target.url(rest)}: {why}")


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code") or response.get("ResponseMetadata", {})
               .get("HTTPStatusCode") or "")


def _message(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Message") or "") if isinstance(response, dict) else ""
