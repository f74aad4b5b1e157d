"""moto's S3 in server mode on a loopback port (real HTTP, real boto3 signing), for the S3 archive tests;
buckets with or without Object Lock, and the environment a CLI child needs to reach it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from testing.loopback import free_port, wait_for_port

REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def env(self) -> dict[str, str]:
        """A CLI child's AWS environment: these keys, this region, no profile files, no instance role."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}

    def bucket(self, name: str, object_lock: bool = True) -> str:
        self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
        return name


@contextlib.contextmanager
def s3_server(secret_key: str = "moto-secret-key") -> Iterator[S3Server]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        wait_for_port(port)
        yield S3Server(f"http://127.0.0.1:{port}", "AKIDDRIFTCHECKTEST", secret_key)
    finally:
        server.stop()
