"""Text from Git or a cluster made safe to print on a terminal: no control character reaches it raw.

An Application name, a commit message or a live value can carry ANSI/OSC escape sequences (erase a line,
set the window title, plant a hyperlink) or newlines (fake table rows in a CI log). Every value printed to
a terminal goes through `for_terminal`, which writes C0/C1 controls, DEL and line/paragraph separators as
visible escapes (`\\x1b`, `\\n`), so what is shown is what the data says."""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: object) -> str:
    """str(text) with every control character written as a visible escape; a backslash stays itself."""
    return _CONTROL.sub(_escape, str(text))


_SHOWN = 80  # characters of a user's --revision, --at or --repo echoed in an error


def shown(text: str) -> str:
    """A user's --revision, --at or --repo text as an error line echoes it: its start only, controls
    escaped (a 100 KB value or an escape sequence must not fill or rewrite the terminal)."""
    return for_terminal(text if len(text) <= _SHOWN else f"{text[:_SHOWN]}…")
