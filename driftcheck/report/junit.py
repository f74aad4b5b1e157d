"""JUnit XML: one test case per resource, so a CI system shows drift as failing tests.

drifted, missing and extra are failures; unknown and run errors are errors; in-sync passes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any

from driftcheck.report import present

FAILURES = ("drifted", "missing", "extra")


def render_junit(doc: dict[str, Any]) -> str:
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
