"""Credentials out of every message: the one scrubber that knows each credential the run was given.

Whoever loads a credential (a kubeconfig token, a Git token, a password in a URL) registers it here; every
text that can carry connection detail (error lines, notes, the last-resort handler) passes through `scrub`
before it is printed or stored. Registration is process-wide because credentials are too: one run, one
set of them."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

_KNOWN: set[str] = set()
_MIN_LENGTH = 4     # shorter values would blank ordinary words; no real credential is that short
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\"]+")


def register(*credentials: str | None) -> None:
    """Remember credentials (surrounding white space removed, as they are sent) so scrub() hides them."""
    for value in credentials:
        if value and len(value.strip()) >= _MIN_LENGTH:
            _KNOWN.add(value.strip())
            _KNOWN.add(unquote(value.strip()))


def registered() -> frozenset[str]:
    """Every credential registered so far (a forked audit worker sends its own back to the parent)."""
    return frozenset(_KNOWN)


def register_url(url: str) -> None:
    """Remember the password of a URL (`https://user:TOKEN@host/…`), and for http(s) a user with no password
    (`https://TOKEN@github.com/…`); an SSH user such as `git` or `root` is a name, not a credential."""
    parts = urlsplit(url)
    bare_user = parts.password is None and parts.scheme in ("http", "https")
    register(parts.password, parts.username if bare_user else None)


def mask_url(url: str) -> str:
    """The URL with any user/password replaced by *** (https://***@github.com/org/repo.git)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def scrub(text: str) -> str:
    """text without any registered credential, URL userinfo or bearer token."""
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    text = _BEARER.sub(r"\1***", text)
    for value in sorted(_KNOWN, key=len, reverse=True):
        text = text.replace(value, "***")
    return text
