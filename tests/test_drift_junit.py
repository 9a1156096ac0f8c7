"""``drift --format junit``: real recorded runs and goldens altered on purpose,
rendered as JUnit XML and validated against the schema CI tools read
(Jenkins xUnit's junit-10.xsd, which pytest validates its own reports with)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

# test_drift's recorded runs: its fixture, imported so that pytest finds it here.
from .test_drift import _altered_goldens, drift_json, history, run  # noqa: F401

SCHEMA = Path(__file__).parent / "data" / "junit" / "junit-10.xsd"


@pytest.fixture(scope="module")
def recorded(request: pytest.FixtureRequest) -> dict[str, object]:
    return request.getfixturevalue("history")


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(SCHEMA)


def junit(db: str, *argv: str) -> str:
    code, out, err = run("drift", "--db", db, "--format", "junit", *argv)
    assert code == 0, err
    return out


def cases_of(document: str) -> dict[tuple[str, str], ET.Element]:
    return {(t.get("classname", ""), t.get("name", "")): t for t in ET.fromstring(document).iter("testcase")}


def test_a_change_is_a_failure_with_its_summary_and_diff(recorded, schema):
    goldens = _altered_goldens(recorded["tmp"])
    argv = ("--from", "golden", "--to", "latest", "--snapshots-dir", str(goldens))
    document = junit(recorded["db"], *argv)
    schema.validate(document)

    report = drift_json(recorded["db"], *argv)
    cases = cases_of(document)
    # One test case per case × artifact, named as CI tools split them.
    expected = {(c["name"].replace("::", "."), a["key"]): a for c in report["cases"] for a in c["artifacts"]}
    assert set(cases) == set(expected)
    failed = {k for k, t in cases.items() if t.find("failure") is not None}
    assert failed == {k for k, a in expected.items() if a["change"] != "unchanged"}
    assert len(failed) == 8  # 1 changed graph, 1 changed guard tree, 1 added key, 5 removed keys

    forward = cases[("subclasses.two_tensor.twotensor_view", "aot_forward")].find("failure")
    assert forward is not None
    assert forward.get("type") == "changed"
    assert forward.get("message", "").startswith("changed structural: ")
    assert "aten.clone.default 1 → 2" in forward.get("message", "")
    assert "- aten.clone.default 1 → 2" in (forward.text or "")
    assert '-        clone: "f32[s47, s16]" = torch.ops.aten.mul.Tensor(primals_3, 2)' in (forward.text or "")
    guards = cases[("subclasses.two_tensor.twotensor_view_mul", "guards")].find("failure")
    assert guards is not None and guards.get("message", "").startswith("changed guards: guards ")
    gone = cases[("subclasses.two_tensor.gone_case", "dynamo_graph")].find("failure")
    assert gone is not None and gone.get("type") == "removed"

    root = ET.fromstring(document)
    assert (root.get("tests"), root.get("failures")) == (str(len(expected)), "8")
    # A suite per case module, its counts its own.
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"subclasses.two_tensor", "nested.jagged_views"}
    assert suites["nested.jagged_views"].get("failures") == "1"
    props = {p.get("name"): p.get("value") for p in suites["nested.jagged_views"].iter("property")}
    assert props["to"].startswith("run ") and props["from"].startswith("goldens")


def test_no_change_no_failure(recorded, schema):
    document = junit(recorded["db"], "--from", "first", "--to", "second")
    schema.validate(document)
    root = ET.fromstring(document)
    assert int(root.get("tests", "0")) >= 3 * 4 and root.get("failures") == "0"
    assert not list(root.iter("failure"))


def test_a_status_change_fails_every_artifact_and_odd_characters_stay_well_formed(recorded, schema, tmp_path):
    report = json.loads(recorded["report"].read_text())
    broken = report["cases"][0]
    # ok → mismatch keeps the artifacts: unchanged texts, yet every artifact fails.
    broken["status"], broken["error"] = "mismatch", "outputs differ"
    renamed = report["cases"][1]
    # A control character XML 1.0 cannot hold, in a changed text.
    renamed["artifacts"]["dynamo_graph"] = renamed["artifacts"]["dynamo_graph"].replace("l_tt_", "l_tt_\x07")
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(report))
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    for label, path in (("base", recorded["report"]), ("edited", edited)):
        code, _, err = run("record", "--from-json", str(path), "--db", db, "--label", label)
        assert code in (0, 1), err

    document = junit(db, "--from", "base", "--to", "edited")
    schema.validate(document)
    cases = cases_of(document)
    mismatch = [t for (cls, _), t in cases.items() if cls == broken["name"].replace("::", ".")]
    assert len(mismatch) == len(broken["artifacts"]) > 0
    for testcase in mismatch:
        failure = testcase.find("failure")
        assert failure is not None and failure.get("type") == "status-changed"
        assert "(case ok → mismatch)" in failure.get("message", "")
    graph = cases[(renamed["name"].replace("::", "."), "dynamo_graph")].find("failure")
    assert graph is not None and "l_tt_\\x07" in (graph.text or "")


def test_the_schema_check_can_fail(recorded, schema):
    """The validator is live: the same document without a required attribute is refused."""
    document = junit(recorded["db"], "--from", "first", "--to", "second")
    root = ET.fromstring(document)
    del next(root.iter("testsuite")).attrib["tests"]
    with pytest.raises(xmlschema.XMLSchemaValidationError, match="tests"):
        schema.validate(ET.tostring(root, encoding="unicode"))
