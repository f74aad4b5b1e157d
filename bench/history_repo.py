"""A repository with thousands of commits of image bumps on the demo's Kustomize app, made with fast-import.

The CI bot bumps the web image (`chore: Update WEB image to vN`) in almost every commit; every 25th
commit bumps the api image and every 100th is a person scaling the web Rollout, as in real GitOps repos.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

from bench.fastimport import Commit, fast_import
from driftcheck.demo.repo import DEMO_APP_PATH

BOT = "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
HUMAN = "Jonas Weber <jonas.weber@shop.example>"
CET = timezone(timedelta(hours=1))
START = datetime.fromisoformat("2025-03-01T08:00:00+09:00")
ROLLOUT = f"{DEMO_APP_PATH}/web/rollout.yaml"
DEPLOYMENT = f"{DEMO_APP_PATH}/api/deployment.yaml"


def _initial_files() -> dict[str, str]:
    root = Path(str(resources.files("driftcheck.demo") / "repo" / "initial"))
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def history_commits(count: int) -> Iterator[Commit]:
    """`count` commits, the first one adding the whole demo tree."""
    files = _initial_files()
    yield Commit("Mina Park <mina.park@shop.example>", START, "feat(shop): initial apps", dict(files))
    web, api, replicas = 10, 0, 2
    for i in range(1, count):
        moment = START + timedelta(minutes=97 * i)
        if i % 100 == 0:
            old, replicas = replicas, 2 + (replicas - 1) % 4
            text = files[ROLLOUT].replace(f"  replicas: {old}\n", f"  replicas: {replicas}\n", 1)
            commit = Commit(HUMAN, moment.astimezone(CET), f"ops(web): scale to {replicas}", {ROLLOUT: text})
            files[ROLLOUT] = text
        elif i % 25 == 0:
            text = files[DEPLOYMENT].replace(f"shop-api:1.4.{api}", f"shop-api:1.4.{api + 1}", 1)
            api += 1
            commit = Commit(BOT, moment, f"chore: Update API image to 1.4.{api}", {DEPLOYMENT: text})
            files[DEPLOYMENT] = text
        else:
            text = files[ROLLOUT].replace(f"shop-web:v{web}", f"shop-web:v{web + 1}", 1)
            web += 1
            commit = Commit(BOT, moment, f"chore: Update WEB image to v{web}", {ROLLOUT: text})
            files[ROLLOUT] = text
        yield commit


def write_history_repo(dest: Path, count: int = 5000) -> Path:
    """The repository at `dest` (must not exist)."""
    fast_import(dest, history_commits(count))
    return dest
