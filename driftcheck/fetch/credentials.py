"""Credentials for a remote Git call: a token through askpass, pinned SSH host keys, never in argv.

A token or password never reaches a command line or a URL that git could log: it goes to a throwaway
askpass helper through the environment, and credential helpers are turned off for the call.
"""

from __future__ import annotations

import os
import shlex
import stat
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "${DRIFTCHECK_GIT_USERNAME:-x-access-token}" ;;
  *) printf '%s\\n' "$DRIFTCHECK_GIT_TOKEN" ;;
esac
"""


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(URL without user/password, user, password) for http(s) URLs; other URLs are left alone."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, None, None
    host = parts.netloc.rsplit("@", 1)[1]
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, parts.username, parts.password


class GitEnv:
    """Environment for a remote git call: no prompts, token via askpass, pinned SSH host keys."""

    def __init__(self, token: str | None, ssh_key: str | None, known_hosts: str | None,
                 username: str | None = None) -> None:
        self.token = token if token is not None else os.environ.get("DRIFTCHECK_GIT_TOKEN")
        self.username = username
        self.ssh_key = ssh_key or os.environ.get("DRIFTCHECK_SSH_KEY")
        self.known_hosts = known_hosts or os.environ.get("DRIFTCHECK_SSH_KNOWN_HOSTS")
        self.tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> dict[str, str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"}
        env.pop("DRIFTCHECK_GIT_TOKEN", None)
        if self.token:
            self.tmp = tempfile.TemporaryDirectory(prefix="driftcheck-askpass-")
            helper = Path(self.tmp.name) / "askpass"
            helper.write_text(_ASKPASS)
            helper.chmod(stat.S_IRWXU)
            env.update(GIT_ASKPASS=str(helper), DRIFTCHECK_GIT_TOKEN=self.token.strip())
            if self.username:
                env["DRIFTCHECK_GIT_USERNAME"] = self.username
            # A credential helper could answer first (or store the token); disable them for this call.
            env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="credential.helper", GIT_CONFIG_VALUE_0="")
        ssh = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
        if self.known_hosts:
            ssh += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        if self.ssh_key:
            ssh += ["-i", self.ssh_key, "-o", "IdentitiesOnly=yes"]
        env["GIT_SSH_COMMAND"] = shlex.join(ssh)
        return env

    def __exit__(self, *exc: object) -> None:
        if self.tmp:
            self.tmp.cleanup()
