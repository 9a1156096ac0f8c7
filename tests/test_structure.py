"""Change classification of each artifact family on real text (torch 2.13 goldens);
the graph levels themselves are in test_semantic.py, guards and compile summaries here."""

from __future__ import annotations

from collections import Counter

from snapshot_runner.drift.guard_sets import guards, stable_reason
from snapshot_runner.drift.semantic import Level
from snapshot_runner.drift.structure import describe, fails

from .conftest import REPO

VIEW = REPO / "snapshots/subclasses/two_tensor/twotensor_view"


def describe_change(key: str, before: str, after: str) -> tuple[str, list[str]]:
    description = describe(key, before, after)
    return description.level, description.summary


def test_renaming_is_renamed():
    text = (VIEW / "aot_forward.txt").read_text()
    assert describe_change("aot_forward", text, text.replace("clone_1", "copy_b")) == ("renamed", ["same graph, 1 names changed"])


def test_dropped_output_is_a_signature_change():
    text = (VIEW / "aot_forward.txt").read_text()
    lines = text.splitlines(keepends=True)
    last_output = max(i for i, line in enumerate(lines) if "SavedForBackwardsAOTOutput" in line)
    classification, summary = describe_change("aot_forward", text, "".join(lines[:last_output] + lines[last_output + 1 :]))
    assert classification == "signature"
    assert summary == ["outputs 7 → 6"]


def test_guards_parsed_by_kind_and_source():
    found = guards((VIEW / "guards.txt").read_text())
    # Counted by hand in the golden.
    assert Counter(g.kind for g in found) == {
        "LAMBDA_GUARD": 19, "DIMENSION_DYNAMIC_MARKING_GUARD": 15, "GuardManager": 4, "TENSOR_MATCH": 3,
        "NO_TENSOR_ALIASING": 3, "GLOBAL_STATE": 1, "TORCH_FUNCTION_MODE_STACK": 1, "DEFAULT_DEVICE": 1,
        "TYPE_MATCH": 1, "EQUALS_MATCH": 1, "RootGuardManager": 1,
    }  # fmt: skip
    tensor_match = [g for g in found if g.kind == "TENSOR_MATCH"]
    assert [g.source for g in tensor_match] == ["L['tt']", "L['tt'].a", "L['tt'].b"]
    assert all("#" not in g.expression for g in found)  # comments are not part of a guard


def test_removed_guards_counted_by_kind():
    text = (VIEW / "guards.txt").read_text()
    fewer = "".join(line for line in text.splitlines(keepends=True) if "DIMENSION_DYNAMIC_MARKING_GUARD" not in line)
    classification, summary = describe_change("guards", text, fewer)
    assert classification == "guards"
    # Counted by hand in the golden: 50 nodes of the guard tree ("+- " lines), 15 of them DIMENSION_DYNAMIC_MARKING_GUARD.
    assert summary[:2] == ["guards 50 → 35", "15 removed (DIMENSION_DYNAMIC_MARKING_GUARD 15)"]


def test_guards_in_another_order_or_with_other_comments_are_the_same_guards():
    text = (VIEW / "guards.txt").read_text()
    lines = text.splitlines(keepends=True)
    tail = [i for i, line in enumerate(lines) if line.startswith("+- LAMBDA_GUARD")]
    swapped = lines.copy()
    swapped[tail[0]], swapped[tail[-1]] = lines[tail[-1]], lines[tail[0]]
    assert describe_change("guards", text, "".join(swapped))[0] == Level.REORDERED
    # Guards written before case_source_lines: the quoted code and an absolute line.
    recommented = text.replace("# <cases>/subclasses/two_tensor.py:+1 in f", "# y = tt.clone()  # <cases>/subclasses/two_tensor.py:55 in f")
    assert recommented != text and describe_change("guards", text, recommented) == ("text", [f"same {len(guards(text))} guards; comments only"])


def test_a_changed_guard_is_shown_by_what_differs():
    text = (VIEW / "guards.txt").read_text()
    changed = text.replace("size=[None, None], stride=[None, 1])", "size=[None, 4], stride=[4, 1])", 1)
    classification, summary = describe_change("guards", text, changed)
    assert classification == "guards"
    assert summary == ["1 changed (TENSOR_MATCH 1)", "~ TENSOR_MATCH on L['tt']: …size=[None, None], stride=[None, 1]) → …size=[None, 4], stride=[4, 1])"]


def test_compile_summary_counts():
    text = (VIEW / "compile.txt").read_text()
    classification, summary = describe_change("compile", text, text.replace("recompiles: 0", "recompiles: 1"))
    assert (classification, summary) == ("structural", ["recompiles 0 → 1"])


RECOMPILED = (REPO / "snapshots/subclasses/scaled/optional_scale_recompiles/compile.txt").read_text()


def test_recompile_reasons_compared_by_stable_form():
    # Torch pads the reason to its column; the quoted code and place are not the reason.
    repadded = RECOMPILED.replace("== ['_data']   ", "== ['_data']")
    assert repadded != RECOMPILED and describe_change("compile", RECOMPILED, repadded)[0] == Level.TEXT
    other = RECOMPILED.replace("== ['_data']", "== ['_data', '_scale']")
    classification, summary = describe_change("compile", RECOMPILED, other)
    assert classification == Level.GUARDS
    assert summary == ["recompiles: - x.__tensor_flatten__()[0] == ['_data']", "recompiles: + x.__tensor_flatten__()[0] == ['_data', '_scale']"]


def test_graph_break_reason_uses_the_registry_id_where_torch_gives_one():
    assert stable_reason("Call to `torch._dynamo.graph_break()`  # f.py:3 in f") == "Call to `torch._dynamo.graph_break()`"
    assert stable_reason("Unsupported method call [GB0156] Explanation: ...") == "GB0156"
    breaks = "frames compiled: 2\ngraphs: 2\ncache entries: 2\nrecompiles: 0\ngraph breaks: 1\n  - Call to `torch._dynamo.graph_break()`\n"
    assert describe_change("compile", breaks, breaks.replace("graph_break()", "graph_break(msg='x')"))[0] == Level.STRUCTURAL


def test_generated_code_changes_are_structural_with_raw_diff_only():
    description = describe("inductor_code", "a = 1\n", "a = 2\n")
    assert (description.level, description.semantic_diff) == (Level.STRUCTURAL, "")


def test_fail_on_policy():
    assert fails("renamed", Level.TEXT) and fails("renamed", Level.RENAMED) and not fails("renamed", Level.METADATA)
    assert fails("structural", Level.METADATA) and fails(None, Level.STRUCTURAL)
