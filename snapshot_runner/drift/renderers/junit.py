"""JUnit XML drift report: any CI system shows a changed graph as a failed test.

One ``<testcase>`` per case × artifact key (either side's keys): unchanged
passes; changed, added or removed is a ``<failure>`` whose message is the
classification and summary and whose text is the summary, the semantic diff
(left out under ``raw_diff``) and the unified diff.
A case whose status changed (``ok`` → ``error``) fails on every artifact,
saying so; a case without any artifact on either side gets one ``status``
test case (skipped when it was skipped). One ``<testsuite>`` per case module.

The document validates against the JUnit schema that Jenkins' xUnit plugin
and pytest use (``tests/data/junit/junit-10.xsd``; ``tests/test_drift_junit.py``).
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import xml.etree.ElementTree as ET
from itertools import groupby

from snapshot_runner.capture.results import CaseStatus
from snapshot_runner.drift.compare import ArtifactDrift, CaseDrift, Change, DriftReport

# Characters XML 1.0 cannot hold at all (escaping does not help): C0 controls
# but tab, newline and carriage return, lone surrogates, U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A case without artifacts on either side is one test case of this name.
STATUS_TEST = "status"


def _xml_text(text: str) -> str:
    """``text`` with each character XML cannot hold written as ``\\xNN``, so the document stays well-formed."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _classname(case: str) -> str:
    """``subclasses.two_tensor::twotensor_view`` → ``subclasses.two_tensor.twotensor_view``:
    CI tools split a class name at its last dot into package and class."""
    return case.replace("::", ".")


def _failure(case: CaseDrift, artifact: ArtifactDrift) -> tuple[str, str]:
    """The failure's type and message: what changed, how, and its summary."""
    kind = artifact.change if artifact.change != Change.UNCHANGED else case.status
    message = " ".join(filter(None, [artifact.change, artifact.classification]))
    if case.status == Change.STATUS_CHANGED:
        message += f" (case {case.from_status} → {case.to_status})"
    if artifact.summary:
        message += ": " + "; ".join(artifact.summary)
    return kind, message


def _testcase(parent: ET.Element, case: CaseDrift, name: str) -> ET.Element:
    return ET.SubElement(parent, "testcase", {"classname": _xml_text(_classname(case.name)), "name": _xml_text(name), "time": "0"})


def _add_case(suite: ET.Element, case: CaseDrift, raw_diff: bool) -> tuple[int, int, int]:
    """The case's test cases; (tests, failures, skipped) they add."""
    tests = failures = skipped = 0
    for artifact in case.artifacts:
        element = _testcase(suite, case, artifact.key)
        tests += 1
        if artifact.change == Change.UNCHANGED and case.status != Change.STATUS_CHANGED:
            continue
        failures += 1
        kind, message = _failure(case, artifact)
        failure = ET.SubElement(element, "failure", {"type": kind, "message": _xml_text(message)})
        body = "\n".join(f"- {line}" for line in artifact.summary)
        semantic = "" if raw_diff else artifact.semantic_diff.rstrip("\n")
        failure.text = _xml_text("\n\n".join(part for part in (body, semantic, artifact.diff.rstrip("\n")) if part) + "\n")
    if not case.artifacts:  # nothing to compare: the case's status is the test
        element = _testcase(suite, case, STATUS_TEST)
        tests += 1
        if case.status != Change.UNCHANGED:
            failures += 1
            # A case whose module failed to import on one side says why.
            message = f"{case.status}: {case.reason}" if case.reason else f"{case.status}: {case.from_status or 'absent'} → {case.to_status or 'absent'}"
            ET.SubElement(element, "failure", {"type": case.status, "message": _xml_text(message)})
        elif case.to_status == CaseStatus.SKIPPED:
            skipped += 1
            ET.SubElement(element, "skipped", {"message": "skipped on both sides"})
    return tests, failures, skipped


def render(report: DriftReport, *, raw_diff: bool = False, now: dt.datetime | None = None) -> str:
    timestamp = (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None, microsecond=0).isoformat()
    hostname = socket.gethostname() or "localhost"
    root = ET.Element("testsuites", {"name": _xml_text(f"graph drift: {report.before.title} → {report.after.title}"), "time": "0"})
    totals = [0, 0, 0]
    by_module = groupby(sorted(report.cases, key=lambda c: c.name), key=lambda c: c.name.split("::")[0])
    for index, (module, cases) in enumerate(by_module):
        suite = ET.SubElement(root, "testsuite", {"name": _xml_text(module), "id": str(index), "timestamp": timestamp, "hostname": hostname})
        properties = ET.SubElement(suite, "properties")
        for name, value in (("from", report.before.title), ("to", report.after.title), ("build_difference", report.build_difference() or "none")):
            ET.SubElement(properties, "property", {"name": name, "value": _xml_text(value)})
        counts = [0, 0, 0]
        for case in cases:
            counts = [a + b for a, b in zip(counts, _add_case(suite, case, raw_diff), strict=True)]
        tests, failures, skipped = counts
        suite.attrib.update({"tests": str(tests), "failures": str(failures), "errors": "0", "skipped": str(skipped), "time": "0"})
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    root.attrib.update({"tests": str(totals[0]), "failures": str(totals[1]), "errors": "0"})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
