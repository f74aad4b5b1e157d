"""Deploy history from Git, and matching live state to a past commit (see walk.py for how)."""

from driftcheck.history.match import match_live_commit
from driftcheck.history.readset import HistoryApp
from driftcheck.history.sources import source_history
from driftcheck.history.walk import HistoryResult, app_history

__all__ = ["HistoryApp", "HistoryResult", "app_history", "match_live_commit", "source_history"]
