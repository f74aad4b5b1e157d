"""The demo's HTML report in a real browser (Debian's headless chromium, driven over the DevTools protocol).

Checks what an auditor and an attacker would: the numbers match report.json, the filters work, hostile
strings from the cluster and from Git stay text, nothing loads from the network, the page reads with
JavaScript off, and a screenshot is kept for a person to look at.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websocket

from driftcheck.report.json_report import schema_problems
from driftcheck.report.verify import verify

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--window-size=1280,900"]
STARTUP = 60.0  # seconds chromium may take to open its DevTools port on a loaded CI machine

# Skipped only on a developer machine without chromium; CI installs it, so there it must run.
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="no chromium")]


class Browser:
    """Just enough of the DevTools protocol: commands, their replies, and the events seen meanwhile."""

    def __init__(self, profile: Path) -> None:
        assert CHROMIUM, "chromium is not installed (apt-get install chromium)"
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP
        while not (port_file.exists() and port_file.read_text().strip()):
            assert self.proc.poll() is None, "chromium exited during startup"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=STARTUP) as reply:
            page = next(t for t in json.load(reply) if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=STARTUP,
                                              suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                assert "error" not in message, message["error"]
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str) -> dict[str, Any]:
        while True:
            for seen in self.events:
                if seen["method"] == event:
                    self.events.remove(seen)
                    return seen["params"]
            self.events.append(json.loads(self.ws.recv()))

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def event_names(self) -> list[str]:
        return [e["method"] for e in self.events]

    def close(self) -> None:
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(timeout=STARTUP)


@pytest.fixture
def browser(tmp_path: Path):
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path))
    b = Browser(profile)
    yield b
    b.close()


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`driftcheck demo --out DIR` as a user runs it; returns the run directory it wrote."""
    out = tmp_path_factory.mktemp("demo") / "reports"
    done = subprocess.run([sys.executable, "-m", "driftcheck.cli", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1, 2), done.stderr
    pages = sorted(out.glob("*/*/report.html"))
    assert len(pages) == 1, f"demo wrote no report: {done.stderr[-2000:]}"
    return pages[0].parent


VISIBLE = "[...document.querySelectorAll('details.res')].filter(e => !e.hidden)"


def set_filter(browser: Browser, element: str, value: str, event: str = "change") -> list[dict[str, str]]:
    """Set one filter control as a user would and return the resources still shown."""
    browser.js(f"(() => {{ const e = document.getElementById({json.dumps(element)}); "
               f"e.value = {json.dumps(value)}; e.dispatchEvent(new Event({json.dumps(event)}, "
               "{bubbles: true})); })()")
    return browser.js(f"{VISIBLE}.map(e => ({{...e.dataset}}))")


def check_report_page(browser: Browser, run_dir: Path, screenshot: Path) -> None:
    """Everything the browser test asserts about one report page; the demo is its subject."""
    doc = json.loads((run_dir / "report.json").read_text())
    browser.send("Page.enable")
    browser.send("Runtime.enable")
    browser.send("Log.enable")
    browser.send("Network.enable")
    browser.send("Page.addScriptToEvaluateOnNewDocument",
                 source="window.__alerts = []; window.alert = m => window.__alerts.push(String(m));")
    browser.open((run_dir / "report.html").as_uri())

    title = browser.js("document.title")
    assert title.startswith("Drift audit") and "pwned" not in title
    assert browser.js("window.__alerts") == []
    assert "Page.javascriptDialogOpening" not in browser.event_names()
    assert browser.js("document.images.length") == 0  # no hostile <img> made it into the DOM
    assert browser.js("document.scripts.length") == 1  # only the page's own script
    text = browser.js("document.body.innerText")
    assert "<script>document.title='pwned'</script>" in text
    assert '"><img src=x onerror=alert(1)>' in text

    shown = browser.js("Object.fromEntries([...document.querySelectorAll('[data-count]')]"
                       ".map(e => [e.dataset.count, Number(e.textContent)]))")
    assert shown == doc["summary"]
    assert browser.js("document.querySelectorAll('details.res').length") == len(doc["resources"])
    assert browser.js("document.querySelector('.digest').textContent") == doc["digest"]
    csp = browser.js("document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]').content")
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp

    assert browser.js("document.getElementById('filters').hidden") is False  # our script ran under the CSP
    drifted = set_filter(browser, "f-status", "drifted")
    assert len(drifted) == sum(r["status"] == "drifted" for r in doc["resources"]) > 0
    assert {r["status"] for r in drifted} == {"drifted"}
    counter = browser.js("document.getElementById('shown').textContent")
    assert counter == f"{len(drifted)} of {len(doc['resources'])}"
    target = next(r for r in doc["resources"] if r["status"] == "drifted")
    found = set_filter(browser, "f-text", target["name"], "input")
    assert found and all(target["name"] in r["search"] for r in found)
    assert set_filter(browser, "f-text", "no-such-resource-anywhere", "input") == []
    assert browser.js("document.getElementById('none-shown').hidden") is False
    browser.js("document.getElementById('filters').reset()")
    set_filter(browser, "f-status", "")
    assert len(set_filter(browser, "f-text", "", "input")) == len(doc["resources"])

    errors = [e for e in browser.events if e["method"] == "Runtime.exceptionThrown" or
              (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert errors == []  # e.g. a Content-Security-Policy violation would be logged here
    requested = [e["params"]["request"]["url"] for e in browser.events
                 if e["method"] == "Network.requestWillBeSent"]
    assert all(url.startswith("file://") for url in requested), requested  # self-contained: no network

    width = 1280
    height = int(browser.send("Page.getLayoutMetrics")["cssContentSize"]["height"])
    browser.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                 mobile=False)
    shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    if os.environ.get("DRIFTCHECK_SCREENSHOT_DIR"):
        keep = Path(os.environ["DRIFTCHECK_SCREENSHOT_DIR"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, keep / screenshot.name)

    browser.send("Emulation.setScriptExecutionDisabled", value=True)
    browser.send("Page.reload")
    browser.wait_for("Page.loadEventFired")
    assert browser.js("document.getElementById('filters').hidden") is True  # no dead controls without JS
    open_ones = browser.js("[...document.querySelectorAll('details.res[open]')].map(e => e.dataset.status)")
    assert sorted(open_ones) == sorted(r["status"] for r in doc["resources"] if r["status"] != "in-sync")


def test_demo_report_in_a_real_browser(browser: Browser, demo_report: Path, tmp_path: Path) -> None:
    check_report_page(browser, demo_report, tmp_path / "demo-report.png")
    assert (tmp_path / "demo-report.png").stat().st_size > 10_000


def test_demo_report_is_valid_and_verifies(demo_report: Path) -> None:
    doc = json.loads((demo_report / "report.json").read_text())
    assert schema_problems(doc) == []
    assert verify(demo_report / "report.json").ok
