"""JUnit XML: one test case per resource, so a CI system shows drift as failing tests.

drifted, missing and extra are failures; unknown and run errors are errors; in-sync passes.
XML 1.0 cannot carry most control characters at all, even as references, and a CI reporter drops a file
that is not well-formed (and with it every failure); so a value from Git or the cluster holding one (ANSI
colours in a ConfigMap, a NUL) has it written as a visible escape, `\\x1b`, as on the terminal.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any

from driftcheck.report import present

FAILURES = ("drifted", "missing", "extra")
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(doc: dict[str, Any]) -> str:
    doc = xml_safe(doc)
    cluster = doc["cluster"]["context"] or doc["cluster"]["server"] or doc["cluster"]["snapshot"] or "cluster"
    suites = ET.Element("testsuites", name=f"driftcheck {cluster}", timestamp=doc["generated_at"])
    by_app: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in doc["resources"]:
        by_app[r["app"]].append(r)
    errors_by_app: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in doc["errors"]:
        errors_by_app[e["app"] or "(run)"].append(e)
    for app in sorted(set(by_app) | set(errors_by_app)):
        suite = ET.SubElement(suites, "testsuite", name=app)
        for r in by_app[app]:
            case_for(suite, app, r)
        for e in errors_by_app[app]:
            where = f"{e['file']}:{e['line']}" if e["line"] else e["file"] or e["stage"] or "run"
            case = ET.SubElement(suite, "testcase", classname=app, name=f"error {where}")
            ET.SubElement(case, "error", message=e["message"], type=e["stage"] or "error").text = e["message"]
        statuses = [r["status"] for r in by_app[app]]
        suite.set("tests", str(len(statuses) + len(errors_by_app[app])))
        suite.set("failures", str(sum(s in FAILURES for s in statuses)))
        suite.set("errors", str(statuses.count("unknown") + len(errors_by_app[app])))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def case_for(suite: ET.Element, app: str, r: dict[str, Any]) -> None:
    ident = f"{r['kind']}/{r['namespace'] + '/' if r['namespace'] else ''}{r['name']}"
    case = ET.SubElement(suite, "testcase", classname=app, name=ident)
    if r["source"]:
        case.set("file", r["source"]["file"])
        case.set("line", str(r["source"]["line"]))
    if r["status"] in FAILURES:
        paths = ", ".join(d["path"] for d in r["differences"])
        message = f"{r['status']}: {paths or r['reason'] or r['status']}"
        failure = ET.SubElement(case, "failure", message=message, type=r["status"])
        failure.text = "\n".join([*(f"{d['path']}: git {present.yaml_text(d['desired']) or '(absent)'!s} / "
                                    f"live {present.yaml_text(d['live']) or '(absent)'!s}"
                                    for d in r["differences"]), r["reason"]]).strip()
    elif r["status"] == "unknown":
        ET.SubElement(case, "error", message=r["reason"] or "could not be read", type="unknown")


def xml_safe(value: Any) -> Any:
    """value with every string (keys too) free of what XML 1.0 forbids, so no element can be refused."""
    if isinstance(value, str):
        return NOT_XML.sub(_escape, value)
    if isinstance(value, dict):
        return {xml_safe(k): xml_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [xml_safe(v) for v in value]
    return value


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
