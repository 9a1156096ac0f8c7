"""One before/after example per canonical normalization rule, for the docs.

The docs' normalization page is generated from ``CANONICAL_RULES`` (each rule's
name and docstring) and these examples; ``tests/test_docs.py`` checks that each
rule turns its ``before`` into its ``after``, so the page cannot lie. A rule
without an example still gets its name and docstring on the page.
"""

from __future__ import annotations

from snapshot_runner.capture.normalize import Context

# Where the examples pretend the text was captured.
EXAMPLE_CONTEXT = Context(cases_dir="/home/me/mylib/cases", torch_dir="/home/me/venv/lib/python3.11/site-packages/torch")

# rule name -> (raw text, the text after that rule alone)
EXAMPLES: dict[str, tuple[str, str]] = {
    "case_paths": (
        "# File: /home/me/mylib/cases/two_tensor.py:12 in f, code: y = x * 2\n",
        "# File: <cases>/two_tensor.py:12 in f, code: y = x * 2\n",
    ),
    "torch_paths": (
        "# /home/me/venv/lib/python3.11/site-packages/torch/_dynamo/output_graph.py:1135 in init_ambient_guards\n",
        "# <torch>/_dynamo/output_graph.py:1135 in init_ambient_guards\n",
    ),
    "torch_line_numbers": (
        "| +- GLOBAL_STATE: ___check_global_state()  # _dynamo/output_graph.py:1135 in init_ambient_guards\n",
        "| +- GLOBAL_STATE: ___check_global_state()  # _dynamo/output_graph.py in init_ambient_guards\n",
    ),
    "object_ids": (
        "| +- ID_MATCH: ___check_type_id(L['x'], 94823412345600)\n",
        "| +- ID_MATCH: ___check_type_id(L['x'], <type_id>)\n",
    ),
    "installed_global_ids": (
        "___check_metadata_139965312979392_c0/0\n",
        "___check_metadata_<id>_c0/0\n",
    ),
    "object_addresses": (
        "fn=<function f at 0x7f3a2b4c5d60>\n",
        "fn=<function f at 0x<address>>\n",
    ),
    "thread_count": (
        '| +- GLOBAL_STATE: ___check_global_state()  # {"num_threads":16,"grad_mode":true}\n',
        '| +- GLOBAL_STATE: ___check_global_state()  # {"num_threads":<n>,"grad_mode":true}\n',
    ),
    "alignment_padding": (
        "| +- TENSOR_MATCH: check_tensor(L['x'], ...)            # y = x * 2\n",
        "| +- TENSOR_MATCH: check_tensor(L['x'], ...)  # y = x * 2\n",
    ),
    "case_source_lines": (
        "| +- TENSOR_MATCH: check_tensor(L['x'], ...)  # y = x.view(-1)  # <cases>/nowhere.py:55 in f\n",
        "| +- TENSOR_MATCH: check_tensor(L['x'], ...)  # <cases>/nowhere.py in f\n",
    ),
    "nested_int_ids": (
        'values: "f32[s0, j7, 4]", offsets: "Sym(j7)", other: "f32[j12]"\n',
        'values: "f32[s0, j1, 4]", offsets: "Sym(j1)", other: "f32[j2]"\n',
    ),
    "inductor_cache_paths": (
        "# kernel path: /tmp/torchinductor_me/3x/c3xqabcdefghijklmnopqrstuvwxyz0123.py\n",
        "# kernel path: <inductor-cache>/<hash>.py\n",
    ),
    "backend_hashes": (
        "'backend_hash': '" + "0123456789abcdef" * 4 + "'\n",
        "'backend_hash': '<hash>'\n",
    ),
    "provenance_handles": (
        "    # [Provenance debug handles] cpp_fused_add_0:1\n    cpp_fused_add_0(buf0, arg0_1)\n",
        "    cpp_fused_add_0(buf0, arg0_1)\n",
    ),
    "kernel_name_counters": (
        "cpp_fused_add_3(buf0)\ncpp_fused_add_7(buf1)\ncpp_fused_sum_2(buf2)\n",
        "cpp_fused_add_<1>(buf0)\ncpp_fused_add_<2>(buf1)\ncpp_fused_sum_<1>(buf2)\n",
    ),
    "surrounding_blank_lines": (
        "\n\ngraph():\n    return (x,)\n\n\n",
        "graph():\n    return (x,)\n",
    ),
}
