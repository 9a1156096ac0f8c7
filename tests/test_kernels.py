"""The kernel summary on real generated code: Triton code torch 2.11 wrote on an
H200 (tests/data/inductor/), and C++ code Inductor writes here and now."""

from __future__ import annotations

from pathlib import Path

from snapshot_runner.capture.discovery import discover
from snapshot_runner.capture.kernels import kernel_definitions, launches, split_args, summarize
from snapshot_runner.capture.normalize import Context
from snapshot_runner.capture.recorder import capture_case

from .conftest import CASES

DATA = Path(__file__).parent / "data" / "inductor"
MLP = (DATA / "h200_mlp_gelu_forward.py.txt").read_text()
FLOAT8 = (DATA / "h200_float8_scaled_mm_forward.py.txt").read_text()


def test_split_args_respects_brackets_and_quotes() -> None:
    assert split_args("a, reinterpret_tensor(b, (8, 16), (1, 8), 0), alpha=1, s='x,y'") == [
        "a",
        "reinterpret_tensor(b, (8, 16), (1, 8), 0)",
        "alpha=1",
        "s='x,y'",
    ]


def test_triton_definitions_give_kind_and_parameters() -> None:
    (gelu,) = kernel_definitions(MLP).values()
    assert (gelu.name, gelu.kind) == ("triton_poi_fused_gelu_0", "triton pointwise")
    assert gelu.params == ("in_ptr0", "out_ptr0", "xnumel")
    assert gelu.size_hints == "{'x': 64}"


def test_launches_in_call_order_with_provenance() -> None:
    provenance = {"triton_poi_fused_gelu_0:2": ["mul_2", "erf", "mul"], "extern_kernels.addmm:1": ["addmm"]}
    order = {"addmm": 0, "mul": 1, "erf": 2, "mul_2": 3}
    found = launches(MLP, provenance, order, groups=[["addmm"], ["mul", "erf", "mul_2"]])
    assert [(k.kind, k.name) for k in found] == [
        ("extern", "extern_kernels.addmm"),
        ("triton pointwise", "triton_poi_fused_gelu_0"),
        ("extern", "extern_kernels.addmm"),
    ]
    assert found[0].nodes == (("addmm",),)
    assert found[1].nodes == (("mul", "erf", "mul_2"),)  # post-grad graph order
    assert found[2].nodes == ()  # its handle (":3") has no entry
    assert found[1].lines == ("inputs: buf0", "outputs: buf1", "launch: xnumel=64, size_hints={'x': 64}")
    assert found[0].lines[-1] == "outputs: buf0"


def test_nodes_are_split_by_scheduler_node() -> None:
    provenance = {"triton_poi_fused_gelu_0:2": ["mul_2", "erf", "mul"]}
    order = {"mul": 1, "erf": 2, "mul_2": 3}
    (_, gelu, _) = launches(MLP, provenance, order, groups=[["erf", "mul_2"], ["mul"]])
    assert gelu.nodes == (("mul",), ("erf", "mul_2"))
    assert "     nodes: mul | erf, mul_2\n" in summarize(MLP, provenance, order, [["erf", "mul_2"], ["mul"]])


def test_float8_reductions_feed_the_scaled_mm() -> None:
    summary = summarize(FLOAT8, {}, {})
    assert "kernels: 3\n" in summary
    assert summary.count(". triton reduction: triton_red_fused_") == 2
    assert "3. extern: extern_kernels._scaled_mm\n" in summary
    assert "     launch: xnumel=1, r0_numel=3072, size_hints={'x': 1, 'r0_': 4096}\n" in summary
    assert summary.startswith("inputs: arg0_1, arg1_1\n") and summary.endswith("outputs: buf6\n")


def test_cpu_capture_summarizes_cpp_kernels() -> None:
    case = discover(CASES).by_name()["inductor.models::mlp_gelu_code"]
    result = capture_case(case, ctx=Context.current(CASES))
    assert result.status == "ok", result.error
    kernels, code = result.artifacts["inductor_kernels"], result.artifacts["inductor_code"]
    forward = kernels.split("===== backward")[0]
    assert "2. cpp: cpp_fused_gelu_<1>\n     nodes: mul, mul_1, erf, add, mul_2\n" in forward
    assert forward.count(". extern: extern_kernels.addmm") == 2
    assert "cpp_fused_gelu_<1> = async_compile.cpp_pybinding(" in code
    assert "[Provenance debug handles]" not in code
