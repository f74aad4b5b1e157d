"""Which repository URLs mean "this repository": normalizing spellings and guessing from Applications."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from driftcheck.scrub import mask_url

Document = tuple[dict[str, Any], str, int]  # (body, file, line)


def normalize_repo_url(url: str) -> str:
    """host/path, lower-case host, no scheme, user, port, `.git` or trailing slash: one repo, one string.

    https://github.com/Org/repo.git, git@github.com:Org/repo and ssh://git@github.com/Org/repo are equal.
    """
    url = url.strip()
    scp = re.match(r"^[\w.-]+@([\w.-]+):(?!//)(.*)$", url)
    if scp:
        host, path = scp.group(1), scp.group(2)
    elif "://" in url:
        parts = urlsplit(url)
        host, path = (parts.hostname or ""), parts.path
    else:
        host, path = "", url
    path = path.strip("/").removesuffix(".git").strip("/")
    return f"{host.lower()}/{path}" if host else path


def infer_repo_urls(documents: list[Document], known: set[str]) -> tuple[set[str], str]:
    """The URLs that mean "this repository", and a note when they had to be guessed.

    known are the clone's remote URLs and --repo-url values. When no Application points at any of
    them (e.g. the clone came from a bundle), the repoURL most Applications share is taken, and
    the note says so.
    """
    found = [_source(body).get("repoURL") for body, _, _ in documents if body.get("kind") == "Application"]
    urls = [u for u in found if isinstance(u, str) and u]
    wanted = {normalize_repo_url(u) for u in known}
    if any(normalize_repo_url(u) in wanted for u in urls) or not urls:
        return set(known), ""
    guess, count = Counter(urls).most_common(1)[0]
    shown = ", ".join(sorted(mask_url(u) for u in known)) or "none"  # a clone URL may carry a token
    note = (f"no Application uses this clone's URL ({shown}); "
            f"taking {mask_url(guess)} (used by {count} of {len(urls)}) as this repository")
    return set(known) | {guess}, note


def _source(body: dict[str, Any]) -> dict[str, Any]:
    spec = body.get("spec")
    source = spec.get("source") if isinstance(spec, dict) else None
    return source if isinstance(source, dict) else {}
