"""The progress display: plain lines off a terminal, a bar under the lines on one."""

from __future__ import annotations

import io

from driftcheck.progress import CLEAR_LINE, ProgressDisplay


def test_off_a_terminal_every_line_is_printed_as_it_is_and_nothing_is_redrawn() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, live=False)
    display.show("desired state: repo at abc")
    display.show("apps rendered: 1/2: shop, 3 objects from apps/shop")
    display.close()
    assert stream.getvalue() == ("desired state: repo at abc\n"
                                 "apps rendered: 1/2: shop, 3 objects from apps/shop\n")


def test_on_a_terminal_the_bar_follows_the_lines_and_is_cleared_before_the_next() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, live=True)
    display.show("desired state: repo at abc")  # nothing counted yet: no bar
    assert stream.getvalue() == "desired state: repo at abc\n"
    display.show("apps rendered: 1/4: shop, 3 objects from apps/shop")
    display.show("clusters read: 1/2 (prod: 10 objects, 0.4 s)")
    display.show("apps rendered: 4/4: web, 1 objects from apps/web")
    parts = stream.getvalue().split(CLEAR_LINE)  # each new line first wipes the bar drawn after the last
    assert parts == [
        "desired state: repo at abc\napps rendered: 1/4: shop, 3 objects from apps/shop\n"
        "[######..................] apps rendered 1/4",
        "clusters read: 1/2 (prod: 10 objects, 0.4 s)\n"
        "[############............] apps rendered 1/4 · clusters read 1/2",  # the bar: the step that moved
        "apps rendered: 4/4: web, 1 objects from apps/web\n"
        "[########################] apps rendered 4/4 · clusters read 1/2"]
    display.close()
    assert stream.getvalue().endswith(CLEAR_LINE)  # the prompt after the run starts on a clean line


def test_the_bar_never_wraps_a_narrow_terminal() -> None:
    display = ProgressDisplay(io.StringIO(), live=True)
    display.show("apps rendered: 3/7: a, 1 objects from a")
    assert len(display.status_line(20)) == 19
