"""The canonical form of graphs and its levels, on real graph text: the goldens
(torch 2.13) and the artifacts that changed between real captures under torch
2.13.0, 2.14.1 and 2.15.0 (tests/data/semantic, see its README)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from snapshot_runner.capture.artifacts import Family, family
from snapshot_runner.drift import graph_diff, graph_text, semantic
from snapshot_runner.drift.semantic import Level
from snapshot_runner.drift.structure import describe

from .conftest import REPO

DATA = Path(__file__).parent / "data" / "semantic"
GOLDENS = REPO / "snapshots/subclasses/two_tensor"


def artifacts(name: str) -> dict[tuple[str, str], str]:
    report = json.loads((DATA / name).read_text())
    return {(c["name"], key): text for c in report["cases"] for key, text in c["artifacts"].items()}


def changed_graphs(pair: str, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(case, key, before, after) of every graph artifact that differs between the two captures of ``pair``
    (``prefix``: another project's, ``torchao_``)."""
    before_version, after_version = pair.split("_to_")
    old, new = artifacts(f"{prefix}{pair}.{before_version}.json"), artifacts(f"{prefix}{pair}.{after_version}.json")
    return [(c, k, old[c, k], new[c, k]) for (c, k) in sorted(old) if family(k) == Family.GRAPH and old[c, k] != new.get((c, k))]


_NAME = re.compile(r"(?<![.\w])[A-Za-z_]\w*\b")
_DEFINED = re.compile(r"(?m)^\s*(\w+)(?::| =)")


def is_consistent_renaming(old: str, new: str) -> bool:
    """An oracle independent of the canonical form: the texts are equal, token by
    token, once one bijective renaming of the names they define (parameters and
    nodes) is applied; every other identifier must be the same."""
    defined_old, defined_new = set(_DEFINED.findall(old)), set(_DEFINED.findall(new))
    if _NAME.split(old) != _NAME.split(new):  # everything between identifiers must be equal
        return False
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for a, b in zip(_NAME.findall(old), _NAME.findall(new), strict=True):
        if (a in defined_old) != (b in defined_new) or (a not in defined_old and a != b):
            return False
        if forward.setdefault(a, b) != b or backward.setdefault(b, a) != a:
            return False
    return True


# --- parsing ----------------------------------------------------------------------------


def test_parse_real_aot_graph_with_descriptors():
    (graph,) = semantic.parse((GOLDENS / "twotensor_view_mul/aot_forward.txt").read_text())
    assert len(graph.inputs) == 7
    assert graph.inputs[2].ann == "f32[s47, s16]" and graph.inputs[2].descriptor == "SubclassGetAttrAOTInput(base=PlainAOTInput(idx=2), attr='a')"
    assert [n.op for n in graph.nodes] == ["aten.clone.default", "aten.clone.default", "operator *", "aten.view.default", "aten.view.default"]
    assert graph.nodes[3].refs == ("clone", "mul_6")
    assert [o.ref for o in graph.outputs][:2] == ["view", "view_1"]


def test_parse_real_dynamo_graph_sources_and_aliases():
    (graph,) = semantic.parse((GOLDENS / "twotensor_view/dynamo_graph.txt").read_text())
    # Dynamo names placeholders after their sources: that name is the input's identity.
    assert [(i.name, i.descriptor) for i in graph.inputs] == [("s47", ""), ("s16", ""), ("L_tt_", "L_tt_")]
    assert graph.aliases == ("l_tt_",)
    assert graph.nodes[0].op == "Tensor.clone" and graph.nodes[0].refs == ("L_tt_",)


def test_every_section_and_module_is_a_graph():
    graphs = semantic.parse((REPO / "snapshots/inductor/models/layer_norm/inductor_post_grad.txt").read_text())
    assert [g.title for g in graphs] == ["forward/GraphModule", "backward/GraphModule"]
    assert all(g.nodes and g.outputs for g in graphs)


# --- levels on real drift -----------------------------------------------------------------


def test_real_2_14_1_to_2_15_0_graph_changes_are_all_renames():
    changes = changed_graphs("2.14.1_to_2.15.0")
    assert len(changes) == 16  # every graph artifact that changed across the 73 cases
    for case, key, before, after in changes:
        level, summary = graph_diff.describe(before, after)
        assert is_consistent_renaming(before, after), (case, key)  # what renamed claims, checked independently
        assert level == Level.RENAMED, (case, key, level, summary)
        assert re.fullmatch(r"same graph, \d+ names changed", summary[0])


def test_real_renames_of_8_nodes_say_so():
    old = artifacts("2.14.1_to_2.15.0.2.14.1.json")["subclasses.two_tensor::twotensor_mul_sizes", "aot_backward"]
    new = artifacts("2.14.1_to_2.15.0.2.15.0.json")["subclasses.two_tensor::twotensor_mul_sizes", "aot_backward"]
    assert "mul_32" in old and "mul_16" in new
    description = describe("aot_backward", old, new)
    assert (description.level, description.semantic_diff) == (Level.RENAMED, "same graph, 8 names changed\n")


def test_real_2_13_0_to_2_14_1_signature_changes_keep_their_classification():
    levels = {(case, key): graph_diff.describe(before, after)[0] for case, key, before, after in changed_graphs("2.13.0_to_2.14.1")}
    # The subclass AOT signatures gain the inner tensors' sizes as inputs and outputs.
    signature = {k: v for k, v in levels.items() if k[1] != "dynamo_graph" and k[0] != "inductor.models::layer_norm"}
    assert len(signature) == 6 and set(signature.values()) == {Level.SIGNATURE}
    # x.T became aten.numpy_T in the Dynamo graph: an op changed.
    assert levels["subclasses.torch_function::disabled_torch_function_transposes", "dynamo_graph"] == Level.STRUCTURAL
    # The old classifier called this backward "structural"; it is two nodes renamed.
    assert levels["inductor.models::layer_norm", "aot_backward"] == Level.RENAMED


def test_real_torchao_2_13_0_to_2_14_1_classifications():
    levels = {(case, key): graph_diff.describe(before, after) for case, key, before, after in changed_graphs("2.13.0_to_2.14.1", prefix="torchao_")}
    # The forwards compute the same and save other tensors for backward: signature (was structural before issue 18).
    assert levels["float8_training::float8_linear_training", "aot_forward"] == (Level.SIGNATURE, ["outputs 6 → 4"])
    assert levels["nf4_linear::nf4_linear", "aot_forward"] == (Level.SIGNATURE, ["outputs 2 → 6"])
    # The backwards recompute the weight's scale / dequantize the NF4 weight: ops change.
    float8_backward, nf4_backward = levels["float8_training::float8_linear_training", "aot_backward"], levels["nf4_linear::nf4_linear", "aot_backward"]
    assert float8_backward[0] == Level.STRUCTURAL and {"aten._to_copy.default 4 → 6", "aten.abs.default 1 → 2"} <= set(float8_backward[1])
    assert nf4_backward[0] == Level.STRUCTURAL and "aten.__rshift__.Scalar 0 → 1" in nf4_backward[1]


def test_aligned_diff_of_a_real_signature_change_shows_no_renames():
    old = artifacts("2.13.0_to_2.14.1.2.13.0.json")["subclasses.two_tensor::twotensor_view", "aot_forward"]
    new = artifacts("2.13.0_to_2.14.1.2.14.1.json")["subclasses.two_tensor::twotensor_view", "aot_forward"]
    diff = semantic_lines(graph_diff.aligned_diff(old, new))
    # The body reads the same inputs (by descriptor) although they moved from primals_4 to primals_7: no body line differs.
    assert not [line for line in diff if " = " in line]
    assert sum(line.startswith("+    primals") and ": 'Sym(" in line for line in diff) == 6  # the six new size and stride inputs
    raw = [line for line in __import__("difflib").unified_diff(old.splitlines(), new.splitlines(), lineterm="") if line[:1] in "+-"]
    assert any("clone_1" in line for line in raw)  # the raw diff does show the body line


def semantic_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]


# --- levels on edits of real text -----------------------------------------------------------


def swap_lines(text: str, first: str, second: str) -> str:
    lines = text.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if line.lstrip().startswith(first))
    j = next(n for n, line in enumerate(lines) if line.lstrip().startswith(second))
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


def test_independent_nodes_in_another_order_are_reordered():
    text = (GOLDENS / "twotensor_mul_sizes/aot_forward.txt").read_text()
    swapped = swap_lines(text, "mul_16:", "mul_19:")  # two independent muls of the two inner tensors
    assert swapped != text
    level, summary = graph_diff.describe(text, swapped)
    assert level == Level.REORDERED and summary == ["same dataflow, 1 node(s) moved, 0 names changed"]
    # Renamed as well as reordered, as torch 2.15 does: still reordered.
    renamed = re.sub(r"\bmul_(\d+)\b", lambda m: f"mul_{int(m[1]) // 2}x", swapped)
    assert graph_diff.describe(text, renamed)[0] == Level.REORDERED
    assert describe("aot_forward", text, renamed).semantic_diff.startswith("same dataflow")


def test_a_move_across_an_in_place_op_is_not_a_reorder():
    text = (GOLDENS / "twotensor_input_mutation/aot_forward.txt").read_text()
    moved = swap_lines(text, "mul_1:", "copy_:")
    assert graph_diff.describe(text, moved)[0] == Level.STRUCTURAL
    independent = swap_lines(text, "mul:", "add_1:")  # no in-place op between them
    assert graph_diff.describe(text, independent)[0] == Level.REORDERED


def test_changed_dtype_is_metadata_and_names_the_node():
    text = (GOLDENS / "twotensor_view/aot_forward.txt").read_text()
    level, summary = graph_diff.describe(text, text.replace('clone: "f32', 'clone: "bf16', 1))
    assert level == Level.METADATA
    assert summary == ["1 type(s) changed", "clone: f32[s47, s16] → bf16[s47, s16]"]


def test_changed_symbol_of_an_input_is_metadata():
    text = (GOLDENS / "twotensor_view/aot_forward.txt").read_text()
    assert graph_diff.describe(text, text.replace('primals_7: "Sym(s16)"', 'primals_7: "Sym(s99)"'))[0] == Level.METADATA


def test_dropped_output_is_a_signature_change():
    text = (GOLDENS / "twotensor_view/aot_forward.txt").read_text()
    lines = text.splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if "SavedForBackwardsAOTOutput" in line)
    level, summary = graph_diff.describe(text, "".join(lines[:last] + lines[last + 1 :]))
    assert (level, summary) == (Level.SIGNATURE, ["outputs 7 → 6"])


def test_changed_argument_is_structural_even_with_the_same_ops():
    text = (GOLDENS / "twotensor_view_mul/aot_forward.txt").read_text()
    level, summary = graph_diff.describe(text, text.replace("aten.view.default(clone_1,", "aten.view.default(clone,"))
    assert level == Level.STRUCTURAL and "dataflow changed in 1 of 5 nodes" in summary
    # Renames elsewhere do not hide it, and do not show in the aligned diff.
    renamed = text.replace("aten.view.default(clone_1,", "aten.view.default(clone,").replace("mul_6", "mul_2")
    assert graph_diff.describe(text, renamed)[0] == Level.STRUCTURAL
    assert semantic_lines(graph_diff.aligned_diff(text, renamed)) == [
        "-view_1: 'f32[s16*s47]' = torch.ops.aten.view.default(clone_1, [mul_6])",
        "+view_1: 'f32[s16*s47]' = torch.ops.aten.view.default(clone, [mul_6])",
    ]


def test_changed_op_in_one_section_is_structural_and_named_by_section():
    text = (REPO / "snapshots/inductor/models/layer_norm/inductor_post_grad.txt").read_text()
    backward = text.index("===== backward")
    op = text.index("torch.ops.aten.mul.Tensor", backward)
    changed = text[:op] + "torch.ops.aten.add.Tensor" + text[op + len("torch.ops.aten.mul.Tensor") :]
    level, summary = graph_diff.describe(text, changed)
    assert level == Level.STRUCTURAL
    assert "backward/GraphModule: aten.add.Tensor 0 → 1" in summary


def test_layout_only_change_is_text():
    text = (GOLDENS / "twotensor_view/aot_forward.txt").read_text()
    assert graph_diff.describe(text, text.replace("\n\n", "\n"))[0] == Level.TEXT
    dynamo = (GOLDENS / "twotensor_view/dynamo_graph.txt").read_text()
    assert graph_diff.describe(dynamo, dynamo.replace("l_tt_", "l_t_"))[0] == Level.RENAMED


@pytest.mark.parametrize("level", list(Level))
def test_levels_are_ordered_least_change_first(level: Level):
    assert level.rank == list(Level).index(level)
    assert Level.TEXT.rank < Level.RENAMED.rank < Level.REORDERED.rank < Level.METADATA.rank < Level.SIGNATURE.rank < Level.STRUCTURAL.rank


# --- every statement form carries its references (issue 18) ----------------------------------

ALIASES_INPUT = REPO / "snapshots/subclasses/torch_function/make_subclass_aliases_input/dynamo_graph.txt"
NF4 = REPO / "examples/torchao/snapshots/nf4_linear/nf4_linear/dynamo_graph.txt"
FLOAT8 = REPO / "examples/torchao/snapshots/float8_training/float8_linear_training/dynamo_graph.txt"


def test_nested_tuple_return_is_one_output_per_element():
    graphs = semantic.parse(NF4.read_text())
    fwd_body = next(g for g in graphs if g.title == "fwd_body_0")
    assert [(o.ref, o.descriptor) for o in fwd_body.outputs] == [("outs", "at [0, 0]"), ("l_weight_", "at [1, 0]")]
    # The forward now returns the weight: a real change, never "text".
    text = NF4.read_text()
    swapped = text.replace("return ((outs,), (l_weight_,))", "return ((l_weight_,), (outs,))")
    assert swapped != text
    assert graph_diff.describe(text, swapped)[0].rank >= Level.METADATA.rank


def test_augmented_assignment_reads_and_rebinds_its_name_and_is_a_barrier():
    (graph,) = semantic.parse(ALIASES_INPUT.read_text())
    augmented = [n for n in graph.nodes if n.template.startswith(graph_text.REF + " +=")]
    assert [(n.refs, n.ordered) for n in augmented] == [(("L_x_",), True), (("z",), True)]
    # Several statements on one line: ``x: ... = l_x_`` reads the tensor the ``+=`` wrote.
    x = next(n for n in graph.nodes if n.name == "x")
    assert x.refs == (augmented[0].name,)


def test_a_read_moved_across_an_augmented_assignment_is_structural():
    text = ALIASES_INPUT.read_text()
    # ``ret`` reads ``data`` (``l_x_.detach()``, which aliases x) after ``l_x_ += 1``; before it, it reads other numbers.
    moved = swap_lines(text, "l_x_ += 1", "ret:")
    assert moved != text
    assert graph_diff.describe(text, moved)[0] == Level.STRUCTURAL
    # The ``+=`` below its own reader, too.
    below = swap_lines(text, "z += 3", "ret_1:")
    assert graph_diff.describe(text, below)[0] == Level.STRUCTURAL


def test_consistent_rename_of_a_name_bound_by_augmented_assignment_is_renamed():
    text = ALIASES_INPUT.read_text()
    renamed = re.sub(r"\bz\b", "w", text)
    assert renamed != text and is_consistent_renaming(text, renamed)
    assert graph_diff.describe(text, renamed)[0] == Level.RENAMED


def test_identical_nodes_that_swap_places_are_not_a_signature_change():
    text = FLOAT8.read_text()
    swapped = swap_lines(text, "scaled_mmconfig_1 =", "scaled_mmconfig_2 =")
    assert swapped != text
    assert graph_diff.describe(text, swapped)[0] in (Level.RENAMED, Level.REORDERED)
    # Not identical: the first config (other flags) and the second exchanging their values is a real change.
    first, second = "ScaledMMConfig(False, True, False, False)", "ScaledMMConfig(False, False, False, False)"
    different = text.replace(first, "FIRST", 1).replace(second, first, 1).replace("FIRST", second, 1)
    assert different != text
    assert graph_diff.describe(text, different)[0].rank >= Level.METADATA.rank


def test_more_outputs_over_an_identical_body_is_a_signature_change():
    # As optimum-quanto's qint4 aot_forward saving 5 outputs for backward where it saved 3.
    text = (GOLDENS / "twotensor_view_mul/aot_forward.txt").read_text()
    more = text.replace("        )\n", "            clone,  # SavedForBackwardsAOTOutput(idx=2)\n        )\n", 1).replace(
        "(primals_3);  primals_3 = None", "(primals_3)"
    )
    assert more != text
    level, summary = graph_diff.describe(text, more)
    assert (level, summary) == (Level.SIGNATURE, ["outputs 5 → 6"])


def test_multiple_targets_setitem_and_statements_on_one_line():
    text = """class GraphModule(torch.nn.Module):
    def forward(self, L_x_: "f32[4]", L_y_: "f32[4]"):
        a = b = torch.sin(L_x_);  c: "f32[4]" = torch.cos(L_y_)
        a[0] = c
        d: "f32[4]" = b * 2
        return (d,)
"""
    (graph,) = semantic.parse(text)
    assert [n.op for n in graph.nodes] == ["torch.sin", "torch.cos", "\x00[0] = \x00", "operator *"]
    assert graph.nodes[2].refs == ("a", "c") and graph.nodes[2].ordered
    assert graph.nodes[3].refs == ("a",)  # ``b`` is ``a``
    # Reading b before the write into a reads other numbers.
    assert graph_diff.describe(text, swap_lines(text, "a[0] = c", "d:"))[0] == Level.STRUCTURAL
    # A nested list in a call carries its references: ``cat([a, c])`` is not ``cat([c, a])``.
    cat = text.replace('d: "f32[4]" = b * 2', 'd: "f32[8]" = torch.cat([a, c])')
    assert graph_diff.describe(cat, cat.replace("torch.cat([a, c])", "torch.cat([c, a])"))[0] == Level.STRUCTURAL
