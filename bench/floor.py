"""The floor: only read the Git blobs a check reads and parse the YAML and LIST bodies, comparing nothing.

Run as a child process by bench/run.py, like the check it is set against:

    python -m bench.floor --repo REPO [--snapshot FILE | --api URL --token T --requests FILE]

`--requests` holds the LIST paths (with their query strings) the check itself sent, one per line, so
the floor fetches exactly the same bodies. Prints {"git_objects": n, "live_objects": m} as JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import git
import yaml

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
DOCUMENT_START = re.compile(r"^---[ \t]*(?:\n|$)", re.MULTILINE)


def read_git(repo_path: Path) -> int:
    """Every manifest blob at HEAD, read through GitPython and parsed with libyaml's safe loader."""
    repo = git.Repo(repo_path)
    count = 0
    for item in repo.head.commit.tree.traverse():
        if item.type == "blob" and item.path.endswith(MANIFEST_SUFFIXES):
            data = item.data_stream.read()
            count += sum(1 for doc in yaml.load_all(data, Loader=yaml.CSafeLoader) if doc)
    return count


def read_snapshot(path: Path) -> int:
    """Documents written as JSON (as write_snapshot does) parse as JSON, the others with libyaml."""
    count = 0
    for chunk in DOCUMENT_START.split(path.read_text(encoding="utf-8")):
        is_json = chunk.lstrip()[:1] == "{"
        docs = [json.loads(chunk)] if is_json else yaml.load_all(chunk, Loader=yaml.CSafeLoader)
        count += sum(1 for doc in docs if doc and doc.get("kind") != "DriftcheckSnapshot")
    return count


def read_api(url: str, token: str, requests: list[str]) -> int:
    """The same LIST pages, over one keep-alive connection, each body parsed as JSON."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    count = 0
    for path in requests:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        response = conn.getresponse()
        count += len(json.loads(response.read()).get("items") or [])
    conn.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--snapshot", type=Path)
    parser.add_argument("--api")
    parser.add_argument("--token", default="")
    parser.add_argument("--requests", type=Path)
    args = parser.parse_args()
    result = {"git_objects": read_git(args.repo), "live_objects": 0}
    if args.snapshot:
        result["live_objects"] = read_snapshot(args.snapshot)
    elif args.api:
        result["live_objects"] = read_api(args.api, args.token, args.requests.read_text().split())
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
