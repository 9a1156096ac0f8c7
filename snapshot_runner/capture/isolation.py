"""Process state a case can change, put back before the next case runs.

A case runs arbitrary code in the worker: it may set the default dtype, turn
grad mode off, push a torch function mode and never pop it, ``chdir``, edit
``os.environ``... and the next case would compile under that state, giving
different graphs while both report ``ok``. ``Baseline.take()`` records the
state once (before any case module is imported), ``restore()`` puts it back
before each case. Worker side: torch and the standard library only.
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.utils._device as torch_device
import torch.utils._python_dispatch as python_dispatch

# The torch config modules a case may assign to directly (``config=`` patches undo themselves).
CONFIG_MODULES = ("torch._dynamo.config", "torch._inductor.config", "torch._functorch.config")
AUTOCAST_DEVICES = ("cpu", "cuda")

# Inference-mode guards entered to switch a leaked inference mode off. They are
# RAII objects whose exit would switch it back on, so they are kept, never exited.
_inference_off_guards: list[Any] = []


def seed_all(seed: int = 0) -> None:
    """Seed every RNG a case may draw from: torch, Python's ``random``, NumPy's if loaded."""
    torch.manual_seed(seed)
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed)


def _function_modes() -> list[Any]:
    return [torch._C._get_function_stack_at(i) for i in range(torch._C._len_torch_function_stack())]


def _config_modules() -> dict[str, Any]:
    import importlib

    return {name: importlib.import_module(name) for name in CONFIG_MODULES}


def _autocast_state() -> dict[str, tuple[bool, Any]]:
    return {d: (torch.is_autocast_enabled(d), torch.get_autocast_dtype(d)) for d in AUTOCAST_DEVICES}


@dataclasses.dataclass
class Baseline:
    """The state a case starts from."""

    cases_dir: Path
    default_dtype: torch.dtype
    grad_enabled: bool
    device_context: Any
    deterministic: bool
    deterministic_warn_only: bool
    matmul_precision: str
    num_threads: int
    current_device: Any
    function_modes: list[Any]
    dispatch_modes: int
    autocast: dict[str, tuple[bool, Any]]
    autocast_cache: bool
    cwd: str
    environ: dict[str, str]
    sys_path: list[str]
    warning_filters: list[Any]
    modules: set[str] = dataclasses.field(default_factory=set)
    configs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    @classmethod
    def take(cls, cases_dir: Path) -> Baseline:
        """The current state; call ``keep_modules()`` once the case modules are imported."""
        return cls(
            cases_dir=cases_dir.resolve(),
            default_dtype=torch.get_default_dtype(),
            grad_enabled=torch.is_grad_enabled(),
            device_context=getattr(torch._GLOBAL_DEVICE_CONTEXT, "device_context", None),
            deterministic=torch.are_deterministic_algorithms_enabled(),
            deterministic_warn_only=torch.is_deterministic_algorithms_warn_only_enabled(),
            matmul_precision=torch.get_float32_matmul_precision(),
            num_threads=torch.get_num_threads(),
            current_device=torch_device.CURRENT_DEVICE,
            function_modes=_function_modes(),
            dispatch_modes=python_dispatch._len_torch_dispatch_stack(),
            autocast=_autocast_state(),
            autocast_cache=torch.is_autocast_cache_enabled(),
            cwd=os.getcwd(),
            environ=dict(os.environ),
            sys_path=list(sys.path),
            warning_filters=list(warnings.filters),
            modules=set(sys.modules),
            configs={name: module.get_config_copy() for name, module in _config_modules().items()},
        )

    def keep_modules(self) -> None:
        """Modules imported so far (the case modules, their helpers) stay loaded."""
        self.modules = set(sys.modules)

    def restore(self) -> None:
        """Put the recorded state back and seed the RNGs."""
        # Modes first. A default device is a mode too, kept at the bottom of the
        # function stack, and a global (CURRENT_DEVICE) that Dynamo guards on.
        if [id(m) for m in _function_modes()] != [id(m) for m in self.function_modes]:
            while torch._C._len_torch_function_stack():
                torch._C._pop_torch_function_stack()
            for mode in self.function_modes:
                torch._C._push_on_torch_function_stack(mode)
        while python_dispatch._len_torch_dispatch_stack() > self.dispatch_modes:
            python_dispatch._pop_mode()
        torch._GLOBAL_DEVICE_CONTEXT.device_context = self.device_context
        torch_device.CURRENT_DEVICE = self.current_device
        torch.set_default_dtype(self.default_dtype)
        if torch.is_inference_mode_enabled():
            guard = torch._C._InferenceMode(False)
            guard.__enter__()
            _inference_off_guards.append(guard)
        torch.set_grad_enabled(self.grad_enabled)
        torch.use_deterministic_algorithms(self.deterministic, warn_only=self.deterministic_warn_only)
        torch.set_float32_matmul_precision(self.matmul_precision)
        if torch.get_num_threads() != self.num_threads:
            torch.set_num_threads(self.num_threads)
        self._restore_autocast()
        self._restore_configs()
        if os.getcwd() != self.cwd:
            os.chdir(self.cwd)
        if dict(os.environ) != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        sys.path[:] = self.sys_path
        warnings.filters[:] = self.warning_filters  # type: ignore[index]  # a list at runtime
        # Drops the "once"/"default" registries' cache (a private hook; absent in some Pythons).
        getattr(warnings, "_filters_mutated", lambda: None)()
        self._forget_case_imports()
        seed_all(0)

    def _restore_autocast(self) -> None:
        # Entered autocast contexts raise the nesting level; exiting the last clears the cache.
        nesting = torch.autocast_increment_nesting()
        for _ in range(nesting):
            torch.autocast_decrement_nesting()
        torch.clear_autocast_cache()
        for device, (enabled, dtype) in self.autocast.items():
            torch.set_autocast_enabled(device, enabled)
            torch.set_autocast_dtype(device, dtype)
        torch.set_autocast_cache_enabled(self.autocast_cache)

    def _restore_configs(self) -> None:
        for name, module in _config_modules().items():
            saved = self.configs.get(name)
            if saved is None:
                continue
            now = module.get_config_copy()
            for key, value in saved.items():
                if now.get(key) != value:
                    setattr(module, key, value)

    def _forget_case_imports(self) -> None:
        """Drop modules a case imported from the cases directory: the next import is fresh."""
        root = str(self.cases_dir) + os.sep
        for name in [n for n in sys.modules if n not in self.modules]:
            path = getattr(sys.modules[name], "__file__", None) or ""
            if path.startswith(root):
                del sys.modules[name]
