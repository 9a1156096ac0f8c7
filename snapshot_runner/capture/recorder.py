"""Run cases under torch.compile with a recording backend and collect raw text.

Data flows one way: a ``Case`` goes in, a ``CaseResult`` with normalized
artifacts comes out. All cases run in one warm process; ``reset_compiler_state``
puts back what torch lets us reset between cases, and the normalization rules
handle the process-global counters that remain.

Why so long: one case's life in one place (seeding, config patches, the
recording backend, eager comparison, guards and compile summary), since each
step depends on the state the one before left in torch.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.utils._pytree as pytree

from snapshot_runner.capture.artifacts import Key, numbered
from snapshot_runner.capture.case import Case
from snapshot_runner.capture.discovery import fresh_copy
from snapshot_runner.capture.graph_text import readable
from snapshot_runner.capture.inductor import capture_config as inductor_capture_config
from snapshot_runner.capture.inductor import compile_config as inductor_compile_config
from snapshot_runner.capture.inductor import inductor_compiler
from snapshot_runner.capture.isolation import Baseline, seed_all
from snapshot_runner.capture.normalize import Context, normalize_all
from snapshot_runner.capture.results import CaseResult, CaseStatus

Call = tuple[Any, ...]


# --- requirements ----------------------------------------------------------


def _requirement_unmet(requirement: str) -> str | None:
    if requirement == "cuda":
        return None if torch.cuda.is_available() else "requires cuda: no CUDA device available"
    if requirement == "triton":
        try:
            importlib.import_module("triton")
        except ImportError:
            return "requires triton: triton is not installed"
        return None
    return f"unknown requirement {requirement!r}"


def skip_reason(case: Case) -> str | None:
    """Why ``case`` cannot run here, or None."""
    from torch.torch_version import TorchVersion

    version = TorchVersion(torch.__version__.split("+")[0])
    opts = case.options
    if opts.min_torch and version < opts.min_torch:
        return f"requires torch >= {opts.min_torch}, running {torch.__version__}"
    if opts.max_torch and version > opts.max_torch:
        return f"requires torch <= {opts.max_torch}, running {torch.__version__}"
    for requirement in opts.requires:
        reason = _requirement_unmet(requirement)
        if reason:
            return reason
    return None


# --- state between cases -----------------------------------------------------


def reset_compiler_state() -> None:
    """Forget every compiled frame and the counters that leak across cases."""
    import itertools

    import torch._dynamo.bytecode_transformation as bytecode_transformation
    import torch._dynamo.output_graph as output_graph
    import torch._dynamo.utils as dynamo_utils
    import torch._functorch.aot_autograd as aot_autograd
    from torch.nested._internal import nested_tensor
    from torch.utils.weak import WeakTensorKeyDictionary

    torch._dynamo.reset()
    # Inductor's generated code is headed "# AOT ID: ['<n>_forward']".
    aot_autograd.AOT_COUNTER = itertools.count()
    # Names of the globals Dynamo installs (__builtins_dict___0, ...) come from
    # this counter, and they decide the order of the guard tree.
    bytecode_transformation._unique_id_counter = itertools.count()
    # ... as do globals installed by id (__subclass_Foo_<id>_c<N>).
    output_graph._compile_id_counter = itertools.count()
    dynamo_utils.counters.clear()
    dynamo_utils.guard_failures.clear()
    # Nested ints (j1, j2, ...) are numbered by a process-global counter.
    nested_tensor._tensor_id_counter = 0
    nested_tensor._tensor_symint_registry = WeakTensorKeyDictionary()
    torch.manual_seed(0)


@contextlib.contextmanager
def _no_leaked_globals() -> Iterator[None]:
    """Remove the globals a failed compile left in a module's namespace.

    Dynamo installs helpers (``__builtins_dict___0``, ``__import_...``) into the
    globals of the frame it compiles, which may be a library's module shared by
    every case (``nn.Sequential.forward``, a quantized layer's ``forward``). A
    compile that succeeds hands their removal to the compiled code; one that
    fails (a graph break under ``fullgraph=True``) leaves them behind, and with
    ``reset_compiler_state`` restarting Dynamo's name counter the next case's
    compile of that frame failed with ``Name '__builtins_dict___0' already
    exists in scope``: an error that depended on which case ran before.
    """
    import torch._dynamo.utils as dynamo_utils

    hook_class = getattr(dynamo_utils, "CleanupHook", None)
    manager = getattr(dynamo_utils, "CleanupManager", None)
    if hook_class is None or manager is None:
        yield
        return
    create = hook_class.create
    made: list[Any] = []

    def recording_create(scope: dict[str, Any], name: str, val: Any) -> Any:
        hook = create(scope, name, val)
        made.append((hook, val))
        return hook

    hook_class.create = staticmethod(recording_create)
    try:
        yield
    finally:
        hook_class.create = staticmethod(create)
        owned = getattr(getattr(manager, "instance", None), "values", {})
        kept = {id(h) for hooks in (owned.values() if isinstance(owned, dict) else ()) for h in hooks}
        for hook, val in made:
            if id(hook) not in kept and hook.scope.get(hook.name, None) is val:
                hook()


def _config_module(dotted: str) -> tuple[Any, str]:
    """``torch._inductor.config.cpp.threads`` -> (the config module, ``cpp.threads``)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        return module, ".".join(parts[cut:])
    raise ValueError(f"unknown config {dotted!r}: no such module")


def case_config(case: Case, *, kernel_provenance: bool = True) -> dict[str, Any]:
    """The config a case runs under: for Inductor the capture settings (with
    ``kernel_provenance``, the tracking our kernel summary needs; ``make bench``'s
    bare loop leaves it out), then the case's own ``config`` on top."""
    if case.options.backend != "inductor":
        return case.options.config
    base = inductor_capture_config() if kernel_provenance else inductor_compile_config()
    return {**base, **case.options.config}


@contextlib.contextmanager
def config_patches(config: dict[str, Any]) -> Iterator[None]:
    """Apply ``{"torch._dynamo.config.name": value}`` only inside the block."""
    with contextlib.ExitStack() as stack:
        for dotted, value in config.items():
            module, key = _config_module(dotted)
            known = getattr(module, "_config", None)
            if (key not in known) if known is not None else not hasattr(module, key):
                raise ValueError(f"unknown config {dotted!r}")
            stack.enter_context(module.patch(key, value))
        yield


# --- the recording backend -----------------------------------------------------


class Recorder:
    """A torch.compile backend that keeps the text of every graph it is given."""

    def __init__(self, backend: str, *, keep_inductor_code: bool = False) -> None:
        self.backend = backend
        self.keep_inductor_code = keep_inductor_code
        self.graphs: list[dict[str, str]] = []

    def __repr__(self) -> str:  # shown in torch's BackendCompilerFailed messages
        return f"snapshot_runner[{self.backend}]"

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
        record: dict[str, str] = {Key.DYNAMO_GRAPH.value: gm.print_readable(print_output=False)}
        self.graphs.append(record)
        if self.backend == "eager":
            return gm.forward
        if self.backend == "inductor":
            return inductor_compiler(record, keep_code=self.keep_inductor_code)(gm, example_inputs)
        return self._aot(record)(gm, example_inputs)

    @staticmethod
    def _aot(record: dict[str, str]) -> Callable[..., Any]:
        from torch._dynamo.backends.common import aot_autograd
        from torch._functorch._aot_autograd.utils import make_boxed_compiler
        from torch._functorch.compilers import min_cut_rematerialization_partition

        def keeper(key: str) -> Callable[..., Any]:
            def compiler(graph: torch.fx.GraphModule, _inputs: Any) -> Any:
                record[key] = readable(graph)
                return graph

            return make_boxed_compiler(compiler)

        # Same partitioner and options as PyTorch's own subclass tests.
        return aot_autograd(
            fw_compiler=keeper(Key.AOT_FORWARD),
            bw_compiler=keeper(Key.AOT_BACKWARD),
            partition_fn=min_cut_rematerialization_partition,
            keep_inference_input_mutations=True,
        )


GRAPH_KEYS = (Key.DYNAMO_GRAPH, Key.AOT_FORWARD, Key.AOT_BACKWARD, Key.INDUCTOR_POST_GRAD, Key.INDUCTOR_KERNELS, Key.INDUCTOR_CODE)


def _graph_artifacts(graphs: Sequence[dict[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for index, record in enumerate(graphs):
        for key in GRAPH_KEYS:
            if key in record:
                out[numbered(key, index)] = record[key]
    return out


# --- guards and compile summary ----------------------------------------------------


def _cache_entries(codes: Iterable[Any]) -> list[Any]:
    from torch._dynamo.eval_frame import _debug_get_cache_entry_list

    entries = []
    for code in dict.fromkeys(codes):
        entries.extend(_debug_get_cache_entry_list(code))
    # Compile ids are (frame, recompile) pairs: sorting gives compile order.
    return sorted(entries, key=lambda e: (e.compile_id.frame_id, e.compile_id.frame_compile_id))


def _guard_artifacts(entries: Sequence[Any]) -> dict[str, str]:
    return {numbered(Key.GUARDS, i): str(entry.guard_manager) for i, entry in enumerate(entries)}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _strip_compile_id(reason: str) -> str:
    # "0/0: tensor 'x' size mismatch ..." -> the frame number is process-global.
    head, sep, rest = reason.partition(": ")
    return rest if sep and "/" in head and head.replace("/", "").isdigit() else reason


def compile_summary(codes: Sequence[Any], graphs: int, entries: Sequence[Any]) -> str:
    import torch._dynamo.utils as dynamo_utils

    counters = dynamo_utils.counters
    recompiles = [_strip_compile_id(_first_line(reason)) for code in dict.fromkeys(codes) for reason in dynamo_utils.guard_failures.get(code, [])]
    # Dynamo counts each reason text; reasons that differ past their first line
    # are one line here, so their counts are added and said (the total stays whole).
    breaks: collections.Counter[str] = collections.Counter()
    for reason, count in counters["graph_break"].items():
        breaks[_first_line(reason)] += count
    lines = [
        f"frames compiled: {len(dict.fromkeys(codes))}",
        f"graphs: {graphs}",
        f"cache entries: {len(entries)}",
        f"recompiles: {len(recompiles)}",
        *(f"  - {r}" for r in recompiles),
        f"graph breaks: {sum(breaks.values())}",
        *(f"  - {b}" + (f" ({n} times)" if n > 1 else "") for b, n in breaks.items()),
    ]
    return "\n".join(lines) + "\n"


# --- comparing compiled with eager -------------------------------------------------


def _comparable(value: Any) -> Any:
    """Plain tensors (or lists of them) that assert_close understands."""
    from torch.utils._python_dispatch import is_traceable_wrapper_subclass

    if not isinstance(value, torch.Tensor):
        return value
    value = value.detach()
    if value.is_nested:
        return [_comparable(t) for t in value.unbind()]
    if is_traceable_wrapper_subclass(value):
        attrs, _ = value.__tensor_flatten__()
        return [_comparable(getattr(value, attr)) for attr in attrs]
    return value.as_subclass(torch.Tensor) if type(value) is not torch.Tensor else value


def _leaf_inputs(args: Any) -> list[torch.Tensor]:
    return [t for t in pytree.tree_leaves(args) if isinstance(t, torch.Tensor) and t.requires_grad and t.is_leaf]


def _default_loss(output: torch.Tensor) -> torch.Tensor:
    if output.is_nested:
        return output.values().sum()
    return output.sum()


def run_backward(outputs: Any, loss: Callable[[Any], Any] | None) -> None:
    """A case's own ``loss`` gets the output as the function returned it (a dict, a
    TensorDict, a tuple: pytrees intact); the default sums each tensor leaf."""
    if loss is not None:
        loss(outputs).backward()
        return
    for out in pytree.tree_leaves(outputs):
        if isinstance(out, torch.Tensor) and out.requires_grad:
            _default_loss(out).backward(retain_graph=True)


def _as_calls(args: Any) -> list[Call]:
    if isinstance(args, list):
        return [tuple(a) for a in args]
    if isinstance(args, tuple):
        return [args]
    raise TypeError(f"a case factory must return (fn, args_tuple) or (fn, [args_tuple, ...]), got args of type {type(args).__name__}")


# --- one case -------------------------------------------------------------------


def location_in(exc: BaseException, cases_dir: str) -> str:
    """'file:line: ' of the deepest frame inside the cases directory, if any."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if cases_dir and frame.filename.startswith(cases_dir + os.sep):
            where = f"{frame.filename}:{frame.lineno}: "
    return where


def _message(exc: BaseException) -> str:
    """The exception's first line; torch's wrappers ("... raised:") add the next."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if lines[0].endswith(":") and len(lines) > 1:
        return f"{lines[0]} {lines[1]}"
    return lines[0]


def _error_text(stage: str, exc: BaseException, ctx: Context) -> str:
    return f"{location_in(exc, ctx.cases_dir)}{stage}: {type(exc).__name__}: {_message(exc)}"


def _build(case: Case) -> tuple[Callable[..., Any], list[Call]]:
    # Both builds (compiled, eager) must draw the same inputs, from any RNG.
    seed_all(0)
    fn, args = case()
    return fn, _as_calls(args)


def capture_case(case: Case, *, level: str = "canonical", ctx: Context | None = None) -> CaseResult:
    """Compile one case, check it against eager, and return its artifacts."""
    ctx = ctx or Context.current(Path(case.source_file).parent)
    reason = skip_reason(case)
    if reason:
        return CaseResult(name=case.name, status=CaseStatus.SKIPPED, error=reason)
    reset_compiler_state()
    # A fresh copy of the case module: Dynamo installs helper globals
    # (__builtins_dict___0, resume functions) into the compiled function's
    # module, and a graph break keeps them alive past reset(); in a shared
    # module they would change the next case's guards.
    case = fresh_copy(case)
    codes: list[Any] = []
    handle = torch._dynamo.convert_frame.register_bytecode_hook(lambda code, _new: codes.append(code))
    try:
        with _no_leaked_globals():
            result = _run(case, codes, ctx)
    finally:
        handle.remove()
        torch._dynamo.reset()
    if result.status != CaseStatus.ERROR:
        result.artifacts = normalize_all(result.artifacts, level, ctx)
    return result


def _run(case: Case, codes: list[Any], ctx: Context) -> CaseResult:
    opts = case.options
    recorder = Recorder(opts.backend, keep_inductor_code=opts.inductor_code)
    stage = "factory"
    seconds = 0.0
    mismatch: str | None = None
    loss = opts.backward if callable(opts.backward) else None
    try:
        with config_patches(case_config(case)):
            fn, calls = _build(case)
            eager_fn, eager_calls = _build(case)
            stage = "compile"
            compiled = torch.compile(fn, backend=recorder, dynamic=opts.dynamic, fullgraph=opts.fullgraph)
            for args, eager_args in zip(calls, eager_calls):
                stage = "eager"
                torch.manual_seed(0)
                expected = eager_fn(*eager_args)
                if opts.backward:
                    run_backward(expected, loss)
                stage = "compile"
                torch.manual_seed(0)
                start = time.perf_counter()
                got = compiled(*args)
                if opts.backward:
                    stage = "backward"
                    run_backward(got, loss)
                seconds += time.perf_counter() - start
                if mismatch is None:
                    mismatch = _compare(expected, got, eager_args, args)
            stage = "guards"
            entries = _cache_entries(codes)
            raw = _graph_artifacts(recorder.graphs)
            raw.update(_guard_artifacts(entries))
            raw[Key.COMPILE.value] = compile_summary(codes, len(recorder.graphs), entries)
    except Exception as exc:
        return CaseResult(
            name=case.name,
            status=CaseStatus.ERROR,
            error=_error_text(stage, exc, ctx),
            compile_seconds=seconds,
            debug_traceback=traceback.format_exc(),
        )
    return CaseResult(
        name=case.name,
        status=CaseStatus.MISMATCH if mismatch else CaseStatus.OK,
        artifacts=raw,
        error=mismatch,
        compile_seconds=seconds,
    )


def _compare(expected: Any, got: Any, eager_args: Call, args: Call) -> str | None:
    try:
        torch.testing.assert_close(pytree.tree_map(_comparable, got), pytree.tree_map(_comparable, expected), equal_nan=True)
        for want, have in zip(_leaf_inputs(eager_args), _leaf_inputs(args)):
            torch.testing.assert_close(_comparable(have.grad), _comparable(want.grad), equal_nan=True)
    except AssertionError as exc:
        return "compiled result differs from eager: " + " ".join(str(exc).split())
    return None


def capture_cases(
    cases: Sequence[Case],
    *,
    level: str = "canonical",
    ctx: Context,
    progress: Callable[[Case, CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Capture ``cases`` in this process, each from the state the first started from."""
    results = []
    baseline = Baseline.take(Path(ctx.cases_dir))
    for case in cases:
        baseline.restore()
        result = capture_case(case, level=level, ctx=ctx)
        results.append(result)
        if progress:
            progress(case, result)
    baseline.restore()
    return results
