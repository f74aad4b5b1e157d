"""A report archive of nightly runs made by the real `driftcheck check` (demo repository and snapshot), at
faked times (libfaketime), for the evidence-pack tests: a drift that is reverted, a deploy in the period,
a night with no run, all signed and chained as the CronJob writes them."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from testing import planted

DEMO_APPS = ("--argocd-apps", "argocd/demo-app.yaml", "--repo-url",
             "https://git.example.com/platform/shop-gitops.git")
HOTFIX = '"image": "ghcr.io/example/shop-api:1.4.3-hotfix"'
RELEASED = '"image": "ghcr.io/example/shop-api:1.4.2"'
FAKETIME = shutil.which("faketime")


@dataclass(frozen=True)
class Archive:
    reports: Path
    repo: Path
    public: Path
    private: Path
    runs: dict[int, str]  # night -> the run directory's name
    deploy_commit: str  # the commit made on night DEPLOY_NIGHT, dated in the period


REVERT_NIGHT, DEPLOY_NIGHT = 4, 6


def git(repo: Path, *args: str, date: str = "") -> str:
    env = {"GIT_AUTHOR_NAME": "Ana Ops", "GIT_AUTHOR_EMAIL": "ana@shop.example",
           "GIT_COMMITTER_NAME": "Ana Ops", "GIT_COMMITTER_EMAIL": "ana@shop.example",
           "PATH": os.environ["PATH"], "HOME": "/nonexistent"}
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()


def build(base: Path, nights: list[int], month: str = "2026-10") -> Archive:
    """check at 02:17 UTC on each given night of the month; before REVERT_NIGHT the api hotfix is rolled
    back in the cluster (its drift reverted), before DEPLOY_NIGHT a commit changes the api's PDB."""
    made = planted.run_cli(["demo", "--out", str(base / "demo-out")], base / "logs")
    demo = Path(made.stdout.rsplit("demo repository and snapshot: ", 1)[1].strip())
    repo, snapshot = demo / "shop-gitops", demo / "live-snapshot.yaml"
    planted.run_cli(["keygen", "--out", str(base / "keys")], base / "logs")
    private, public = base / "keys" / "driftcheck.key", base / "keys" / "driftcheck.pub"
    reports, runs, deploy = base / "reports", {}, ""
    for night in nights:
        if night >= REVERT_NIGHT:
            snapshot.write_text("\n".join(line.replace(HOTFIX, RELEASED) if '"kind": "Deployment"' in line
                                          else line for line in snapshot.read_text().split("\n")))
        if night >= DEPLOY_NIGHT and not deploy:
            pdb = repo / "apps/shop/api/pdb.yaml"
            pdb.write_text(pdb.read_text().replace("minAvailable: 1", "minAvailable: 2"))
            git(repo, "commit", "-q", "-am", "ops(api): keep two pods during node drains",
                date=f"{month}-{night - 1:02d}T15:30:00+00:00")
            deploy = git(repo, "rev-parse", "HEAD")
        done = planted.run_cli(["check", "--repo", str(repo), *DEMO_APPS, "--live-snapshot", str(snapshot),
                                "--out", str(reports), "-o", "none", "--sign-key", str(private)],
                               base / "logs", env={"FAKETIME": f"@{month}-{night:02d} 02:17:05", "TZ": "UTC",
                                    "LD_PRELOAD": _libfaketime()})
        assert done.returncode == 1, done.stderr
        stamp = f"{month.replace('-', '')}{night:02d}T"
        made_now = sorted(p.name for p in (reports / "demo").iterdir() if p.name.startswith(stamp))
        assert len(made_now) == 1, (night, made_now, sorted(p.name for p in (reports / "demo").iterdir()),
                                    done.stderr)
        runs[night] = made_now[0]
    return Archive(reports, repo, public, private, runs, deploy)


def _libfaketime() -> str:
    for candidate in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                      "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"):
        if Path(candidate).exists():
            return candidate
    raise AssertionError("libfaketime is not installed (apt-get install faketime)")
