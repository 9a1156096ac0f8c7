"""The ``inductor`` backend: compile with Inductor and keep what it made.

For every graph Inductor compiles (the forward or inference graph, then the
backward) we keep, in sections named ``forward`` / ``backward``:

* ``aot_forward`` / ``aot_backward``: the AOTAutograd graph handed to Inductor;
* ``inductor_post_grad``: that graph after Inductor's post-grad passes, the
  graph its scheduler lowers;
* ``inductor_kernels``: a summary of the generated code (``kernels.summarize``);
* ``inductor_code`` (opt-in, ``@case(inductor_code=True)``): the generated
  wrapper module with its kernel sources.

Inductor is driven through ``compile_fx`` with our own ``inner_compile`` that
wraps ``compile_fx_inner``, so the graphs are Inductor's own, not a re-trace.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch

from snapshot_runner.capture.artifacts import SECTION_PREFIX, Key
from snapshot_runner.capture.graph_text import readable
from snapshot_runner.capture.kernels import summarize

# Applied while an Inductor case is captured; a case's own ``config`` goes on top.
CAPTURE_CONFIG: dict[str, Any] = {
    # No result may come from an earlier run: no FX graph, AOTAutograd or
    # autotuning caches. (The C++/Triton build cache stays: it is keyed by the
    # kernel source, which is generated before it is consulted.)
    "torch._inductor.config.fx_graph_cache": False,
    "torch._inductor.config.fx_graph_remote_cache": False,
    "torch._inductor.config.autotune_local_cache": False,
    "torch._inductor.config.autotune_remote_cache": False,
    "torch._functorch.config.enable_autograd_cache": False,
    # Compile in this process: no worker pool per pytest-xdist worker.
    "torch._inductor.config.compile_threads": 1,
    # C++ kernels depend on the machine's core count (OpenMP parallel loops)
    # and vector ISA (loop steps); pin both so CPU goldens are the same on any
    # x86-64 machine with AVX2.
    "torch._inductor.config.cpp.threads": 2,
    "torch._inductor.config.cpp.simdlen": 256,
}


def _provenance_config() -> dict[str, Any]:
    """Inductor's kernel -> post-grad node tracking, under whichever name this torch has."""
    import torch._inductor.config as inductor_config

    names = inductor_config._config  # type: ignore[attr-defined]
    if "trace.provenance_tracking_level" in names:
        return {"torch._inductor.config.trace.provenance_tracking_level": 1}
    if "trace.provenance_tracking" in names:
        return {"torch._inductor.config.trace.provenance_tracking": True}
    return {}


def compile_config() -> dict[str, Any]:
    """``CAPTURE_CONFIG`` (names this torch knows): what decides the code Inductor
    makes and that nothing comes from a cache. ``make bench``'s bare loop compiles
    under it too."""
    import torch._inductor.config as inductor_config

    known = inductor_config._config  # type: ignore[attr-defined]
    return {
        name: value
        for name, value in CAPTURE_CONFIG.items()
        if not name.startswith("torch._inductor.config.") or name.removeprefix("torch._inductor.config.") in known
    }


def capture_config() -> dict[str, Any]:
    """The config patches an Inductor capture runs under: ``compile_config`` plus
    the provenance tracking that ``inductor_kernels`` is read from."""
    return {**compile_config(), **_provenance_config()}


@contextlib.contextmanager
def _fresh_provenance() -> Iterator[dict[str, list[str]]]:
    """Kernel -> post-grad nodes recorded while one graph compiles (and only it)."""
    import torch._inductor.debug as inductor_debug

    table = getattr(inductor_debug, "_inductor_triton_kernel_to_post_grad_node_info", None)
    if table is None:
        yield {}
        return
    table.clear()
    reset = getattr(inductor_debug, "reset_inductor_kernel_provenance_debug_handle", None)
    if reset:
        reset()
    recorded: dict[str, list[str]] = {}
    try:
        yield recorded
    finally:
        # compile_fx may rebind the table; read the current one.
        recorded.update(inductor_debug._inductor_triton_kernel_to_post_grad_node_info)


@contextlib.contextmanager
def _scheduler_groups() -> Iterator[list[list[str]]]:
    """The post-grad nodes of each scheduler node once fusion is done, as
    Inductor's scheduler is about to generate code for them."""
    from torch._inductor.scheduler import Scheduler

    groups: list[list[str]] = []
    codegen = Scheduler.codegen

    def recording_codegen(self: Scheduler, *args: Any, **kwargs: Any) -> Any:
        groups[:] = [[origin.name for sub in fused.get_nodes() if sub.node is not None for origin in sub.node.origins] for fused in self.nodes]  # type: ignore[attr-defined]  # IR nodes have origins; the Operation type does not say so
        return codegen(self, *args, **kwargs)

    Scheduler.codegen = recording_codegen  # type: ignore[method-assign]
    try:
        yield groups
    finally:
        Scheduler.codegen = codegen  # type: ignore[method-assign]


def _append(record: dict[str, str], key: str, section: str, text: str) -> None:
    record[key] = record.get(key, "") + f"{SECTION_PREFIX}{section}\n" + text.rstrip("\n") + "\n"


def inductor_compiler(record: dict[str, str], *, keep_code: bool) -> Callable[..., Any]:
    """A backend that compiles with Inductor and fills ``record`` with its artifacts."""
    from torch._inductor.compile_fx import compile_fx, compile_fx_inner

    def inner_compile(gm: torch.fx.GraphModule, example_inputs: Any, **kwargs: Any) -> Any:
        section = "backward" if kwargs.get("is_backward") else "forward"
        record[f"aot_{section}"] = readable(gm)
        with _fresh_provenance() as provenance, _scheduler_groups() as groups:
            compiled = compile_fx_inner(gm, example_inputs, **kwargs)
        code = getattr(compiled, "source_code", None)
        if code is None:
            raise RuntimeError(f"Inductor returned {type(compiled).__name__} without generated source code")
        # Post-grad passes rewrite ``gm`` in place; this is the graph Inductor lowered.
        _append(record, Key.INDUCTOR_POST_GRAD, section, readable(gm))
        order = {node.name: index for index, node in enumerate(gm.graph.nodes)}
        _append(record, Key.INDUCTOR_KERNELS, section, summarize(code, provenance, order, groups))
        if keep_code:
            _append(record, Key.INDUCTOR_CODE, section, code)
        return compiled

    def backend(gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
        return compile_fx(gm, example_inputs, inner_compile=inner_compile)

    return backend
