"""Each canonical rule on real raw text captured from torch 2.13 (CPU), and
the promise that no rule hides a real change."""

from __future__ import annotations

import pytest

from snapshot_runner.capture.normalize import CANONICAL_RULES, Context, normalize

CTX = Context(cases_dir="/home/dev/proj/cases", torch_dir="/home/dev/proj/.venv/lib/python3.11/site-packages/torch")
RULES = {r.name: r for r in CANONICAL_RULES}

# rule -> (raw text as torch printed it, what the rule makes of it)
EXAMPLES = {
    "case_paths": (
        "| | +- TYPE_MATCH: ___check_type_id(L['tt'], 9393), type=<class 'TwoTensor'>  # y = tt.clone()  # cases/subclasses/two_tensor.py:44 in f\n"
        "Recompiling function f in /home/dev/proj/cases/subclasses/scaled.py:30",
        "| | +- TYPE_MATCH: ___check_type_id(L['tt'], 9393), type=<class 'TwoTensor'>  # y = tt.clone()  # <cases>/subclasses/two_tensor.py:44 in f\n"
        "Recompiling function f in <cases>/subclasses/scaled.py:30",
    ),
    "torch_paths": (
        "File /home/dev/proj/.venv/lib/python3.11/site-packages/torch/_tensor.py:1650 in __torch_function__",
        "File <torch>/_tensor.py:1650 in __torch_function__",
    ),
    "torch_line_numbers": (
        "| +- DEFAULT_DEVICE: utils_device.CURRENT_DEVICE == None                           # _dynamo/output_graph.py:1122 in init_ambient_guards\n"
        "| | +- LAMBDA_GUARD: ___check_metadata_1_c0/0   # y = tt.clone()  # <cases>/subclasses/two_tensor.py:44 in f\n"
        "+- LAMBDA_GUARD: 2 <= L['x'].size()[1]  # return x.sin()  # <cases>/nested/jagged_views.py:30 in _sin (_dynamo/variables/builder.py:5277 in <lambda>)",
        "| +- DEFAULT_DEVICE: utils_device.CURRENT_DEVICE == None                           # _dynamo/output_graph.py in init_ambient_guards\n"
        "| | +- LAMBDA_GUARD: ___check_metadata_1_c0/0   # y = tt.clone()  # <cases>/subclasses/two_tensor.py:44 in f\n"
        "+- LAMBDA_GUARD: 2 <= L['x'].size()[1]  # return x.sin()  # <cases>/nested/jagged_views.py:30 in _sin (_dynamo/variables/builder.py in <lambda>)",
    ),
    "object_ids": (
        "| | +- TYPE_MATCH: ___check_type_id(L['tt'], 93938298550832), type=<class 'TwoTensor'>\n"
        "| | | | +- ID_MATCH: ___check_obj_id(G['__builtins_dict___0']['all'], 139965312979392), type=<class 'builtin_function_or_method'>\n"
        # torch 2.15.0: calls nested two deep in the guarded expression.
        "| | | | | | | +- ID_MATCH: ___check_obj_id(dict(type(L['w']).__dict__)['__torch_function__'].__func__.__code__, 140571610692016), type=<class 'code'>\n"
        # A dict whose keys are objects (an nn.Module) guards each key's identity with two underscores.
        "| | | | +- ID_MATCH: __check_obj_id(list(dict.keys(L['table']))[0], 140344391585680)  # return sum(v * x for k, v in table.items())\n"
        # As torch 2.13's _dynamo/guards.py writes a script object's type check (no case here makes one).
        "| | +- FAKE_SCRIPT_OBJECT_MATCH: ___check_fake_script_type(L['obj'], 140344391585680), type=<class 'torch.ScriptObject'>",
        "| | +- TYPE_MATCH: ___check_type_id(L['tt'], <type_id>), type=<class 'TwoTensor'>\n"
        "| | | | +- ID_MATCH: ___check_obj_id(G['__builtins_dict___0']['all'], <obj_id>), type=<class 'builtin_function_or_method'>\n"
        "| | | | | | | +- ID_MATCH: ___check_obj_id(dict(type(L['w']).__dict__)['__torch_function__'].__func__.__code__, <obj_id>), type=<class 'code'>\n"
        "| | | | +- ID_MATCH: __check_obj_id(list(dict.keys(L['table']))[0], <obj_id>)  # return sum(v * x for k, v in table.items())\n"
        "| | +- FAKE_SCRIPT_OBJECT_MATCH: ___check_fake_script_type(L['obj'], <fake_script_type>), type=<class 'torch.ScriptObject'>",
    ),
    "installed_global_ids": (
        "| | +- LAMBDA_GUARD: ___check_metadata_139965312979392_c0/1\n"
        "| | +- GuardManager: source=G['__subclass_PassthroughTF_93854220742768_c0'], accessed_by=DictGetItemGuardAccessor\n"
        # tensordict 0.15.3: isinstance(x, Tensor) where torch is not a global installs torch with no prefix.
        "| | +- GuardManager: source=G['_140220710397776_c0'], accessed_by=DictGetItemGuardAccessor('_140220710397776_c0'), type=<class 'module'>\n"
        "+- LAMBDA_GUARD: G['_140220710397776_c1'].Tensor is G['__import_tensordict_dot__td'].Tensor  # if type(value) is Tensor\n"
        # An optimizer's weakref: store_global_weakref_by_id("__optimizer_<id>", ...) adds a second id.
        "| | +- NOT_NONE: G['__optimizer_139701444707088_139701414643168_c4']() is not None  # has_sparse_grad = self._init_group(\n"
        # As torch 2.13's _dynamo/guards.py names a DTensor spec guard (no CPU case makes one).
        "| | +- LAMBDA_GUARD: __dtensor_spec_140344391585680\n"
        # As torch 2.13's variables/torch.py caches a torch object without a qualified name.
        "| | +- GuardManager: source=G['__torch_obj_140344391585680'], accessed_by=DictGetItemGuardAccessor",
        "| | +- LAMBDA_GUARD: ___check_metadata_<id>_c0/1\n"
        "| | +- GuardManager: source=G['__subclass_PassthroughTF_<id>_c0'], accessed_by=DictGetItemGuardAccessor\n"
        "| | +- GuardManager: source=G['_<id>_c0'], accessed_by=DictGetItemGuardAccessor('_<id>_c0'), type=<class 'module'>\n"
        "+- LAMBDA_GUARD: G['_<id>_c1'].Tensor is G['__import_tensordict_dot__td'].Tensor  # if type(value) is Tensor\n"
        "| | +- NOT_NONE: G['__optimizer_<id>_<id>_c4']() is not None  # has_sparse_grad = self._init_group(\n"
        "| | +- LAMBDA_GUARD: __dtensor_spec_<id>\n"
        "| | +- GuardManager: source=G['__torch_obj_<id>'], accessed_by=DictGetItemGuardAccessor",
    ),
    "object_addresses": (
        "backend='<snapshot_runner.capture.Recorder object at 0x7fc30e4449d0>' raised\n"
        "| | | | +- EQUALS_MATCH: list(dict.keys(L['table']))[1] == <built-in method sin of type object at 0x7fa49d8cea40>\n"
        # torch 2.13 _dynamo/guards.py describe_backend(), in a BACKEND_MATCH recompile reason.
        "Cached backend: _TorchCompileWrapper(inductor) (id=0x7f3a2c1b9e50).",
        "backend='<snapshot_runner.capture.Recorder object at 0x<address>>' raised\n"
        "| | | | +- EQUALS_MATCH: list(dict.keys(L['table']))[1] == <built-in method sin of type object at 0x<address>>\n"
        "Cached backend: _TorchCompileWrapper(inductor) (id=0x<address>).",
    ),
    # tensordict 0.15.3 (tensorclass, TensorDict arithmetic): sets in hash order.
    "set_element_order": (
        "| | | | +- EQUALS_MATCH: G['Transition'].__expected_keys__ == {'reward', 'obs', 'action'}  # if key in self.__expected_keys__\n"
        "| | | | +- EQUALS_MATCH: G['__import_tensordict_dot_utils']._FOREACH_ADD_TENSOR == frozenset({'sub_', 'add', 'add_', 'sub'})  # name in _FOREACH_ADD_TENSOR",
        "| | | | +- EQUALS_MATCH: G['Transition'].__expected_keys__ == {'action', 'obs', 'reward'}  # if key in self.__expected_keys__\n"
        "| | | | +- EQUALS_MATCH: G['__import_tensordict_dot_utils']._FOREACH_ADD_TENSOR == frozenset({'add', 'add_', 'sub', 'sub_'})  # name in _FOREACH_ADD_TENSOR",
    ),
    "thread_count": (
        '| +- GLOBAL_STATE: ___check_global_state() against {"grad_mode":true,"num_threads":2,"torch_function":true}',
        '| +- GLOBAL_STATE: ___check_global_state() against {"grad_mode":true,"num_threads":<n>,"torch_function":true}',
    ),
    "alignment_padding": (
        "| | +- DIMENSION_DYNAMIC_MARKING_GUARD: hasattr(L['tt'], '_dynamo_dynamic_indices') == False          # y = tt.clone()",
        "| | +- DIMENSION_DYNAMIC_MARKING_GUARD: hasattr(L['tt'], '_dynamo_dynamic_indices') == False  # y = tt.clone()",
    ),
    # No case file under CTX's cases_dir: the line number goes (see below for relative lines).
    "case_source_lines": (
        "| | +- TYPE_MATCH: ___check_type_id(L['tt'], <type_id>), type=<class 'torch.testing._internal.two_tensor.TwoTensor'>"
        "  # y = tt.clone()  # <cases>/subclasses/two_tensor.py:55 in f (HINT: type TwoTensor)\n"
        "  - ___check_metadata_<id>_c0/0                        # return x * x  # <cases>/subclasses/scaled.py:98 in f\n"
        "| +- DEFAULT_DEVICE: utils_device.CURRENT_DEVICE == None  # _dynamo/output_graph.py in init_ambient_guards",
        "| | +- TYPE_MATCH: ___check_type_id(L['tt'], <type_id>), type=<class 'torch.testing._internal.two_tensor.TwoTensor'>"
        "  # <cases>/subclasses/two_tensor.py in f (HINT: type TwoTensor)\n"
        "  - ___check_metadata_<id>_c0/0                        # <cases>/subclasses/scaled.py in f\n"
        "| +- DEFAULT_DEVICE: utils_device.CURRENT_DEVICE == None  # _dynamo/output_graph.py in init_ambient_guards",
    ),
    "nested_int_ids": (
        '    def forward(self, L_x_: "NestedTensor(f64[3, j7, 3])", L_y_: "NestedTensor(f64[3, j9, 3])"):\n'
        '        sin: "NestedTensor(f64[3, j7, 3])" = l_x_.sin()',
        '    def forward(self, L_x_: "NestedTensor(f64[3, j1, 3])", L_y_: "NestedTensor(f64[3, j2, 3])"):\n'
        '        sin: "NestedTensor(f64[3, j1, 3])" = l_x_.sin()',
    ),
    # Inductor's generated code, as torch 2.11 wrote it for an H200 (tests/data/inductor/).
    "inductor_cache_paths": (
        "# kernel path: /tmp/torchinductor_root/qa/cqayfpa2r5kgjdc2t4435msflgnuxrc4id7rw6kj5gytfrywidfu.py\n"
        "# Topologically Sorted Source Nodes: [input_2], Original ATen: [aten.gelu]",
        "# kernel path: <inductor-cache>/<hash>.py\n# Topologically Sorted Source Nodes: [input_2], Original ATen: [aten.gelu]",
    ),
    "backend_hashes": (
        "'num_reduction': 0, 'backend_hash': '91D1D1166449D9E2EB66EB9770C9E2C3B0FEB787341F27FEB4D3F0338DA50336', 'assert_indirect_indexing': True",
        "'num_reduction': 0, 'backend_hash': '<hash>', 'assert_indirect_indexing': True",
    ),
    "provenance_handles": (
        "            # Topologically Sorted Source Nodes: [input_2], Original ATen: [aten.gelu]\n"
        "            # [Provenance debug handles] triton_poi_fused_gelu_0:2\n"
        "            stream0 = get_raw_stream(0)\n",
        "            # Topologically Sorted Source Nodes: [input_2], Original ATen: [aten.gelu]\n            stream0 = get_raw_stream(0)\n",
    ),
    "kernel_name_counters": (
        "===== forward\n"
        "            triton_red_fused_abs_max_t_0.run(arg0_1, buf2, buf4, 1, 2048, stream=stream0)\n"
        "            triton_red_fused_abs_max_t_1.run(arg1_1, buf3, buf5, 1, 3072, stream=stream0)\n"
        "===== backward\n"
        "        cpp_fused_sum_1(buf3, buf5)\n",
        "===== forward\n"
        "            triton_red_fused_abs_max_t_<1>.run(arg0_1, buf2, buf4, 1, 2048, stream=stream0)\n"
        "            triton_red_fused_abs_max_t_<2>.run(arg1_1, buf3, buf5, 1, 3072, stream=stream0)\n"
        "===== backward\n"
        "        cpp_fused_sum_<1>(buf3, buf5)\n",
    ),
    "surrounding_blank_lines": (
        "\nTREE_GUARD_MANAGER:\n+- RootGuardManager\n\n",
        "TREE_GUARD_MANAGER:\n+- RootGuardManager\n",
    ),
}


def test_every_rule_has_an_example() -> None:
    assert set(EXAMPLES) == set(RULES)


def test_every_rule_is_documented() -> None:
    assert all(r.doc for r in CANONICAL_RULES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_rule_rewrites_real_text(name: str) -> None:
    raw, expected = EXAMPLES[name]
    assert RULES[name].apply(raw, CTX) == expected


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_rule_is_idempotent(name: str) -> None:
    _, expected = EXAMPLES[name]
    assert RULES[name].apply(expected, CTX) == expected


# Real raw guard lines of twotensor_graph_break (torch 2.15.0): the resumed
# function's guards name its line and the graph break's.
RESUME_GUARD = (
    "| | +- TENSOR_MATCH: check_tensor(L['y'], TwoTensor, DispatchKeySet(CPU, BackendSelect, Python, ADInplaceOrView, AutogradCPU, "
    "PythonTLSSnapshot), torch.float32, device=None, requires_grad=True, size=[3, 4], stride=[4, 1])"
    "  # return y.cos() + 1  # <cases>/subclasses/two_tensor.py:137 in torch_dynamo_resume_in_f_at_136\n"
    "| | +- TYPE_MATCH: ___check_type_id(L['tt'], <type_id>), type=<class 'torch.testing._internal.two_tensor.TwoTensor'>"
    "  # y = tt * 2  # <cases>/subclasses/two_tensor.py:135 in f (HINT: type TwoTensor)\n"
    "| | +- ID_MATCH: ___check_obj_id(L['x'], <obj_id>)  # return torch.mul(x, x)  # <cases>/subclasses/scaled.py:12 in f"
    " (<cases>/subclasses/_tensors.py:40 in __torch_dispatch__)\n"
)
CASE_FILE = """import torch


@case()
def twotensor_graph_break():
    def f(tt):
        y = tt * 2
        torch._dynamo.graph_break()
        return y.cos() + 1
"""


def test_case_source_lines_are_relative_to_their_function(tmp_path):
    # Line 135 of the real file is the first line of f's body; here f starts at line 6.
    source = tmp_path / "subclasses" / "two_tensor.py"
    source.parent.mkdir()
    source.write_text("\n" * 128 + CASE_FILE)
    ctx = Context(cases_dir=str(tmp_path))
    out = RULES["case_source_lines"].apply(RESUME_GUARD, ctx).splitlines()
    assert out[0].endswith("  # <cases>/subclasses/two_tensor.py:+3 in torch_dynamo_resume_in_f_at_+2")
    assert out[1].endswith("  # <cases>/subclasses/two_tensor.py:+1 in f (HINT: type TwoTensor)")
    # Files that cannot be read lose the number, never the function.
    assert out[2].endswith("  # <cases>/subclasses/scaled.py in f (<cases>/subclasses/_tensors.py in __torch_dispatch__)")
    # A comment line at the top of the file changes nothing.
    source.write_text("# a comment\n" + "\n" * 128 + CASE_FILE)
    moved = RESUME_GUARD.replace(":137 in", ":138 in").replace("_at_136", "_at_137").replace(":135 in", ":136 in")
    assert RULES["case_source_lines"].apply(moved, ctx).splitlines() == out


def test_case_source_lines_never_hide_a_change_in_the_guard_itself(tmp_path):
    ctx = Context(cases_dir=str(tmp_path))
    guard = RESUME_GUARD.splitlines()[0]
    for changed in (guard.replace("size=[3, 4], stride=[4, 1]", "size=[3, 5], stride=[5, 1]"), guard.replace("TENSOR_MATCH", "TYPE_MATCH")):
        assert normalize("guards", changed, "canonical", ctx) != normalize("guards", guard, "canonical", ctx)
    # Two places in different functions stay different.
    in_g = guard.replace("torch_dynamo_resume_in_f_at_136", "g")
    assert normalize("guards", in_g, "canonical", ctx) != normalize("guards", guard, "canonical", ctx)


# Real changes between two graphs or guard trees; canonical text must still differ.
REAL_CHANGES = [
    (
        "guards",
        "| | +- TENSOR_MATCH: check_tensor(L['x'], Tensor, torch.float32, size=[2, 3], stride=[3, 1])",
        "| | +- TENSOR_MATCH: check_tensor(L['x'], Tensor, torch.float32, size=[2, 4], stride=[4, 1])",
    ),
    ("guards", "+- LAMBDA_GUARD: 2 <= L['tt'].a.size()[0]", "+- LAMBDA_GUARD: 3 <= L['tt'].a.size()[0]"),
    (
        "guards",
        "| | +- TYPE_MATCH: ___check_type_id(L['tt'], 9393), type=<class 'TwoTensor'>",
        "| | +- TYPE_MATCH: ___check_type_id(L['tt'], 9393), type=<class 'ScaledTensor'>",
    ),
    ("guards", "| | +- LAMBDA_GUARD: ___check_metadata_1399653_c0/0", "| | +- LAMBDA_GUARD: ___check_metadata_1399653_c0/1"),
    # An id-named global: its compile id, the attribute read and what it is compared with stay.
    (
        "guards",
        "+- LAMBDA_GUARD: G['_140220710397776_c0'].Tensor is G['__import_tensordict_dot__td'].Tensor",
        "+- LAMBDA_GUARD: G['_140220710397776_c1'].Tensor is G['__import_tensordict_dot__td'].Tensor",
    ),
    (
        "guards",
        "+- LAMBDA_GUARD: G['_140220710397776_c0'].Tensor is G['__import_tensordict_dot__td'].Tensor",
        "+- LAMBDA_GUARD: G['_140220710397776_c0'].Tensor is G['__import_tensordict_dot_base'].Tensor",
    ),
    (
        "guards",
        "+- NOT_NONE: G['__optimizer_139701444707088_139701414643168_c4']() is not None",
        "+- NOT_NONE: G['__scheduler_139701444707088_139701414643168_c4']() is not None",
    ),
    # Which dict key is guarded by identity.
    (
        "guards",
        "+- ID_MATCH: __check_obj_id(list(dict.keys(L['table']))[0], 140344391585680)",
        "+- ID_MATCH: __check_obj_id(list(dict.keys(L['table']))[1], 140344391585680)",
    ),
    # A set's members, and a dict's order (a dict is not a set).
    (
        "guards",
        "+- EQUALS_MATCH: G['T'].__expected_keys__ == {'reward', 'obs', 'action'}",
        "+- EQUALS_MATCH: G['T'].__expected_keys__ == {'reward', 'obs', 'done'}",
    ),
    ("guards", "+- EQUALS_MATCH: G['T'].__expected_keys__ == {'reward', 'obs', 'action'}", "+- EQUALS_MATCH: G['T'].__expected_keys__ == {'reward', 'obs'}"),
    ("guards", "+- EQUALS_MATCH: L['d'] == {'b': 1, 'a': 2}", "+- EQUALS_MATCH: L['d'] == {'a': 2, 'b': 1}"),
    # Which backend a recompile names.
    ("compile", "Cached backend: _TorchCompileWrapper(inductor) (id=0x7f3a2c1b9e50).", "Cached backend: _TorchCompileWrapper(eager) (id=0x7f3a2c1b9e50)."),
    (
        "aot_forward",
        'mul: "f32[s47, s16]" = torch.ops.aten.mul.Tensor(primals_3, primals_1)',
        'mul: "f32[s47, s16]" = torch.ops.aten.add.Tensor(primals_3, primals_1)',
    ),
    (
        "aot_forward",
        'view: "f32[s47, s16]" = torch.ops.aten.view.default(clone, [primals_1, primals_2])',
        'view: "f64[s47, s16]" = torch.ops.aten.view.default(clone, [primals_1, primals_2])',
    ),
    (
        "dynamo_graph",
        'def forward(self, L_x_: "NestedTensor(f64[3, j1, 3])", L_y_: "NestedTensor(f64[3, j2, 3])"):',
        'def forward(self, L_x_: "NestedTensor(f64[3, j1, 3])", L_y_: "NestedTensor(f64[3, j1, 3])"):',
    ),
    ("aot_forward", '        primals_7: "Sym(s16)",  # SubclassStrideAOTInput(base=PlainAOTInput(idx=2), idx=0)\n    ):', "    ):"),
    # Kernels: a reduction strategy, a fusion, a launch shape, a kernel's body, which kernel runs.
    ("inductor_kernels", "1. triton persistent_reduction: triton_per_fused_native_layer_norm_0", "1. triton reduction: triton_red_fused_native_layer_norm_0"),
    ("inductor_kernels", "     nodes: sin, add\n", "     nodes: sin\n"),
    (
        "inductor_kernels",
        "     launch: xnumel=8, r0_numel=16, size_hints={'x': 8, 'r0_': 16}",
        "     launch: xnumel=8, r0_numel=32, size_hints={'x': 8, 'r0_': 32}",
    ),
    ("inductor_code", "    tmp2 = tmp0 * tmp1\n", "    tmp2 = tmp0 + tmp1\n"),
    # A bit mask is code, not an object address.
    ("inductor_code", "    tmp1 = tmp0 & 0x7fffffff\n", "    tmp1 = tmp0 & 0x7ffffffe\n"),
    ("inductor_code", "    size_hints={'x': 64}, \n", "    size_hints={'x': 128}, \n"),
    (
        "inductor_code",
        "triton_poi_fused_sum_0.run(buf0)\ntriton_poi_fused_sum_1.run(buf3)\n",
        "triton_poi_fused_sum_0.run(buf0)\ntriton_poi_fused_sum_0.run(buf3)\n",
    ),
    (
        "inductor_code",
        "# kernel path: /tmp/torchinductor_root/qa/cqayfpa2r5kgjdc2t4435msflgnuxrc4id7rw6kj5gytfrywidfu.py\n"
        "# Topologically Sorted Source Nodes: [input_2], Original ATen: [aten.gelu]",
        "# kernel path: /tmp/torchinductor_root/qa/cqayfpa2r5kgjdc2t4435msflgnuxrc4id7rw6kj5gytfrywidfu.py\n"
        "# Topologically Sorted Source Nodes: [input_2], Original ATen: [aten.relu]",
    ),
]


@pytest.mark.parametrize("key,before,after", REAL_CHANGES)
def test_canonical_never_hides_a_real_change(key: str, before: str, after: str) -> None:
    assert normalize(key, before, "canonical", CTX) != normalize(key, after, "canonical", CTX)


def test_native_strips_file_comments_like_pytorch() -> None:
    raw = (
        "class GraphModule(torch.nn.Module):\n"
        '    def forward(self, L_x_: "f32[3, 4]"):\n'
        "        # File: /tmp/x.py:19 in f, code: y = x.clone()\n"
        '        y: "f32[3, 4]" = l_x_.clone()   \n'
    )
    assert normalize("dynamo_graph", raw, "native", CTX) == (
        'class GraphModule(torch.nn.Module):\n    def forward(self, L_x_: "f32[3, 4]"):\n        y: "f32[3, 4]" = l_x_.clone()\n'
    )


def test_generated_code_keeps_its_comments() -> None:
    # Comments in generated code say which nodes a kernel came from; unlike graphs, they stay.
    raw = "# Topologically Sorted Source Nodes: [input_2], Original ATen: [aten.gelu]\nbuf0 = x\n"
    assert normalize("inductor_code", raw, "native", CTX) == raw
    assert normalize("inductor_code", raw, "canonical", CTX) == raw


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown normalization level"):
        normalize("guards", "", "loose", CTX)
