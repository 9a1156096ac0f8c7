"""Change classification on real graph and guard text (torch 2.13 goldens)."""

from __future__ import annotations

from snapshot_runner.drift.structure import describe_change, guard_kinds, parse_graph

from .conftest import REPO

VIEW = REPO / "snapshots/subclasses/two_tensor/twotensor_view"


def test_parse_real_aot_graph():
    shape = parse_graph((VIEW / "aot_forward.txt").read_text())
    assert len(shape.inputs) == 7 and shape.inputs[2] == "f32[s47, s16]"
    assert len(shape.outputs) == 7
    assert dict(shape.ops) == {"aten.clone.default": 2, "aten.view.default": 2}
    assert shape.skeleton[0] == "v0: f32[s47, s16] = torch.ops.aten.clone.default(in2)"


def test_parse_real_dynamo_graph_method_calls():
    shape = parse_graph((VIEW / "dynamo_graph.txt").read_text())
    assert dict(shape.ops) == {"Tensor.clone": 1, "Tensor.view": 1}
    assert shape.inputs == ("Sym(s47)", "Sym(s16)", "TwoTensor(f32[s47, s16])")


def test_renaming_is_text_only():
    text = (VIEW / "aot_forward.txt").read_text()
    assert describe_change("aot_forward", text, text.replace("clone_1", "copy_b"))[0] == "text-only"


def test_dropped_output_is_a_signature_change():
    text = (VIEW / "aot_forward.txt").read_text()
    lines = text.splitlines(keepends=True)
    last_output = max(i for i, line in enumerate(lines) if "SavedForBackwardsAOTOutput" in line)
    classification, summary = describe_change("aot_forward", text, "".join(lines[:last_output] + lines[last_output + 1 :]))
    assert classification == "signature"
    assert summary == ["outputs 7 → 6"]


def test_new_input_type_is_a_signature_change():
    text = (VIEW / "aot_forward.txt").read_text()
    changed = text.replace('primals_7: "Sym(s16)"', 'primals_7: "Sym(s99)"')
    classification, summary = describe_change("aot_forward", text, changed)
    assert classification == "signature"
    assert summary == ["input types: - → Sym(s99)"]


def test_changed_dataflow_is_structural_even_with_the_same_ops():
    text = (VIEW / "aot_forward.txt").read_text()
    swapped = text.replace("aten.view.default(clone_1,", "aten.view.default(clone,")
    classification, _ = describe_change("aot_forward", text, swapped)
    assert classification == "structural"


def test_changed_dtype_is_structural():
    text = (VIEW / "aot_forward.txt").read_text()
    classification, _ = describe_change("aot_forward", text, text.replace('clone: "f32', 'clone: "bf16', 1))
    assert classification == "structural"


def test_guard_kinds_and_deltas():
    text = (VIEW / "guards.txt").read_text()
    # Counted by hand in the golden: 45 guards and 4 guard managers below the root.
    assert guard_kinds(text) == {
        "LAMBDA_GUARD": 19, "DIMENSION_DYNAMIC_MARKING_GUARD": 15, "GuardManager": 4, "TENSOR_MATCH": 3,
        "NO_TENSOR_ALIASING": 3, "GLOBAL_STATE": 1, "TORCH_FUNCTION_MODE_STACK": 1, "DEFAULT_DEVICE": 1,
        "TYPE_MATCH": 1, "EQUALS_MATCH": 1,
    }  # fmt: skip
    fewer = "".join(line for line in text.splitlines(keepends=True) if "DIMENSION_DYNAMIC_MARKING_GUARD" not in line)
    assert describe_change("guards", text, fewer) == ("guards", ["guards 49 → 34", "DIMENSION_DYNAMIC_MARKING_GUARD 15 → 0"])


def test_compile_summary_counts():
    text = (VIEW / "compile.txt").read_text()
    classification, summary = describe_change("compile", text, text.replace("recompiles: 0", "recompiles: 1"))
    assert (classification, summary) == ("structural", ["recompiles 0 → 1"])


def test_every_section_of_a_multi_graph_artifact_is_parsed():
    # Inductor's post-grad artifact holds a forward and a backward graph.
    text = (REPO / "snapshots/inductor/models/layer_norm/inductor_post_grad.txt").read_text()
    backward = text.index("===== backward")
    op = text.index("torch.ops.aten.mul.Tensor", backward)
    changed = text[:op] + "torch.ops.aten.add.Tensor" + text[op + len("torch.ops.aten.mul.Tensor") :]
    classification, summary = describe_change("inductor_post_grad", text, changed)
    assert classification == "structural"
    assert any(line.startswith("aten.add.Tensor ") for line in summary)
    forward, backward_shape = parse_graph(text[:backward]), parse_graph(text[backward:])
    both = parse_graph(text)
    assert both.ops == forward.ops + backward_shape.ops
    assert len(both.outputs) == len(forward.outputs) + len(backward_shape.outputs)
