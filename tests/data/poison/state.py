"""Each ``change_*`` case leaves one piece of process state changed; each is
followed by a copy of ``victim``, whose graph shape encodes the state it sees
(the bits of ``_signature``). Isolated, every copy equals ``victim`` alone."""

import os
import random
import sys
import warnings

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from snapshot_runner import case


def _signature() -> int:
    import _state  # from this cases directory; a case may have changed it

    bits = [
        torch.get_default_dtype() != torch.float32,
        not torch.is_grad_enabled(),
        torch.is_inference_mode_enabled(),
        torch.get_default_device().type != "cpu",
        torch.are_deterministic_algorithms_enabled(),
        torch.get_float32_matmul_precision() != "highest",
        torch._C._len_torch_function_stack() > 0,
        torch.utils._python_dispatch._len_torch_dispatch_stack() > 0,
        torch.is_autocast_enabled("cpu"),
        os.getcwd() == os.path.abspath(os.sep),
        "SNAPSHOT_POISON" in os.environ,
        any("poison-path" in p for p in sys.path),
        any(f[0] == "error" for f in warnings.filters),
        _state.VALUE != 0,
        torch._dynamo.config.capture_scalar_outputs,
    ]
    return sum(bit << i for i, bit in enumerate(bits))


def _victim():
    # The RNGs: the tool seeds them, so a case may use them for sizes.
    n = 2 + random.randrange(5) + int(torch.randint(0, 5, ()).item())

    def f(x):
        return x.sin() * 2

    return f, (torch.ones(n, 1 + _signature(), device="cpu", requires_grad=True),)


victim = case(dynamic=False)(_victim)


def _changer(change):
    def factory():
        change()
        return (lambda x: x + 1), (torch.ones(2),)

    factory.__name__ = change.__name__
    return case(backend="eager", backward=False)(factory)


class _NoopFunctionMode(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


class _NoopDispatchMode(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def _import_and_change_helper():
    import _state

    _state.VALUE = 42


def _set_dynamo_config():
    torch._dynamo.config.capture_scalar_outputs = True


# Contexts entered and never exited; kept alive, as a case's own objects could be.
_LEAKED = []


def _enter(context):
    _LEAKED.append(context)
    context.__enter__()


CHANGES = {
    "default_dtype": lambda: torch.set_default_dtype(torch.float64),
    "grad_mode": lambda: torch.set_grad_enabled(False),
    "inference_mode": lambda: _enter(torch.inference_mode()),
    "default_device": lambda: torch.set_default_device("meta"),
    "deterministic": lambda: torch.use_deterministic_algorithms(True),
    "matmul_precision": lambda: torch.set_float32_matmul_precision("medium"),
    "function_mode": lambda: _enter(_NoopFunctionMode()),
    "dispatch_mode": lambda: _enter(_NoopDispatchMode()),
    "autocast": lambda: _enter(torch.autocast("cpu", dtype=torch.bfloat16)),
    "cwd": lambda: os.chdir(os.sep),
    "environ": lambda: os.environ.__setitem__("SNAPSHOT_POISON", "1"),
    "sys_path": lambda: sys.path.insert(0, "/nonexistent/poison-path"),
    "warnings": lambda: warnings.simplefilter("error"),
    "helper_module": _import_and_change_helper,
    "dynamo_config": _set_dynamo_config,
    "rng": lambda: (random.seed(99), torch.manual_seed(99)),
}

for _name, _change in CHANGES.items():
    _change.__name__ = f"change_{_name}"
    globals()[f"change_{_name}"] = _changer(_change)
    globals()[f"victim_after_{_name}"] = case(dynamic=False)(_victim)
