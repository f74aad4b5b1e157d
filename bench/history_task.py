"""The history benchmark's child process: the deploy history of one app path over the whole repository.

    python -m bench.history_task REPO APP_PATH   ->   {"events": n}
"""

from __future__ import annotations

import json
import sys

import git

from driftcheck.apps import path_app
from driftcheck.history import app_history


def main() -> None:
    repo_path, app_path = sys.argv[1:3]
    result = app_history(git.Repo(repo_path), path_app("bench", app_path, "shop"))
    json.dump({"events": len(result.events), "errors": [str(e) for e in result.errors]}, sys.stdout)


if __name__ == "__main__":
    main()
