"""Tensor subclasses shared by the case modules (a helper module: its name starts
with '_', so discovery does not look for cases in it)."""

from __future__ import annotations

from typing import Any

import torch
import torch.utils._pytree as pytree
from torch.utils._python_dispatch import return_and_correct_aliasing


# --- __torch_function__ subclasses -------------------------------------------


class PassthroughTF(torch.Tensor):
    """Defers every call to the default __torch_function__."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return super().__torch_function__(func, types, args, kwargs)


class AttrCarryingTF(torch.Tensor):
    """Carries a plain class attribute that compiled code reads."""

    scale_hint: int = 10

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return super().__torch_function__(func, types, args, kwargs)


class FakeNDimTF(torch.Tensor):
    """Answers ``ndim`` with 10 whatever its real rank."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func == torch.Tensor.ndim.__get__:
            return 10
        return super().__torch_function__(func, types, args, kwargs)


class SigmoidAsExpTF(torch.Tensor):
    """Runs ``exp`` whenever ``sigmoid`` is asked for."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func == torch.Tensor.sigmoid:
            func = torch.Tensor.exp
        return super().__torch_function__(func, types, args, kwargs)


class RaisingNewTF(torch.Tensor):
    """Its constructor raises, so tracing must never call it (made with as_subclass)."""

    def __new__(cls, *args, **kwargs):
        raise RuntimeError("RaisingNewTF cannot be constructed")

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return super().__torch_function__(func, types, args, kwargs or {})


class BoxedTensor:
    """Not a Tensor at all: holds one and unwraps it in __torch_function__."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        unwrap = lambda b: b.tensor  # noqa: E731
        args = pytree.tree_map_only(BoxedTensor, unwrap, args)
        kwargs = pytree.tree_map_only(BoxedTensor, unwrap, kwargs or {})
        return func(*args, **kwargs)


# --- __torch_dispatch__ wrapper subclasses ---------------------------------------


def _wrapper_like(cls: type, data: torch.Tensor) -> Any:
    return torch.Tensor._make_wrapper_subclass(
        cls,
        data.size(),
        strides=data.stride(),
        storage_offset=data.storage_offset(),
        dtype=data.dtype,
        layout=data.layout,
        requires_grad=data.requires_grad,
        device=data.device,
    )


class ScaledTensor(torch.Tensor):
    """Inner ``_data`` (same shape as the wrapper) and a 1-d ``_scale``, plus a
    constant kept in the flatten context (float8-style training tensors)."""

    def __new__(cls, data: torch.Tensor, scale: torch.Tensor, *, constant: int = 0):
        return _wrapper_like(cls, data)

    def __init__(self, data: torch.Tensor, scale: torch.Tensor, *, constant: int = 0):
        self._data = data
        self._scale = scale
        self._constant = constant

    def __tensor_flatten__(self):
        return ["_data", "_scale"], {"_constant": self._constant}

    @staticmethod
    def __tensor_unflatten__(inner, meta, outer_size, outer_stride):
        return ScaledTensor(inner["_data"], inner["_scale"], constant=meta["_constant"])

    @classmethod
    def __torch_dispatch__(cls, func, types, args, kwargs=None):
        first = args[0]
        out = func(first._data, *args[1:], **(kwargs or {}))
        return ScaledTensor(out, first._scale, constant=first._constant)

    def __repr__(self):
        return f"ScaledTensor({self._data!r}, scale={self._scale!r})"


class MaybeScaledTensor(torch.Tensor):
    """Like ScaledTensor, but the scale may be None: the set of inner tensors
    changes, which must recompile."""

    def __new__(cls, data: torch.Tensor, scale: torch.Tensor | None, *, constant: int = 0):
        return _wrapper_like(cls, data)

    def __init__(self, data, scale, *, constant: int = 0):
        self._data = data
        self._scale = scale
        self._constant = constant

    def __tensor_flatten__(self):
        inner = ["_data", "_scale"] if self._scale is not None else ["_data"]
        return inner, {"_constant": self._constant}

    @staticmethod
    def __tensor_unflatten__(inner, meta, outer_size, outer_stride):
        return MaybeScaledTensor(inner["_data"], inner.get("_scale"), constant=meta["_constant"])

    @classmethod
    def __torch_dispatch__(cls, func, types, args, kwargs=None):
        first = args[0]
        out = func(first._data, *args[1:], **(kwargs or {}))
        if first._scale is not None:
            out = out * first._scale
        return MaybeScaledTensor(out, first._scale, constant=first._constant)

    def __repr__(self):
        return f"MaybeScaledTensor({self._data!r}, scale={self._scale!r})"


class ConstantCtxTensor(torch.Tensor):
    """Keeps an int in its flatten context; ``mul`` adds it to the result, so the
    compiled code is only valid for that constant and Dynamo must guard on it."""

    @staticmethod
    def __new__(cls, inner: torch.Tensor, constant: int):
        return _wrapper_like(cls, inner)

    def __init__(self, inner: torch.Tensor, constant: int):
        self.inner = inner
        self.constant = constant

    def __repr__(self):
        return f"ConstantCtxTensor({self.inner!r}, constant={self.constant})"

    def __tensor_flatten__(self):
        return ["inner"], (self.constant,)

    @classmethod
    def __tensor_unflatten__(cls, inner, meta, sizes, strides):
        return cls(inner["inner"], meta[0])

    @classmethod
    def __torch_dispatch__(cls, func, types, args, kwargs=None):
        kwargs = kwargs or {}
        flat = pytree.tree_leaves((args, kwargs))
        constant = max(x.constant for x in flat if isinstance(x, ConstantCtxTensor))
        unwrap = lambda x: x.inner if isinstance(x, ConstantCtxTensor) else x  # noqa: E731
        out = func(*pytree.tree_map(unwrap, args), **pytree.tree_map(unwrap, kwargs))
        out = pytree.tree_map_only(torch.Tensor, lambda t: cls(t, constant), out)
        if func == torch.ops.aten.mul.Tensor:
            out = out + out.constant
        return return_and_correct_aliasing(func, args, kwargs, out)


class AtLeastCtxTensor(ConstantCtxTensor):
    """Overrides the metadata guard: compiled code stays valid while the new
    constant is at least the one compiled for."""

    @classmethod
    def __metadata_guard__(cls, compiled_meta, new_meta):
        return compiled_meta[0] <= new_meta[0]


class DoubledInnerTensor(torch.Tensor):
    """The wrapper is twice as long as its inner tensor, and dispatch branches on
    the inner size: guards must be expressed on the inner tensor's sizes."""

    @staticmethod
    def __new__(cls, inner: torch.Tensor):
        size = list(inner.shape)
        size[0] *= 2
        return torch.Tensor._make_wrapper_subclass(cls, size, dtype=inner.dtype, device=inner.device)

    def __init__(self, inner: torch.Tensor):
        self.inner = inner

    def __repr__(self):
        return f"DoubledInnerTensor({self.inner!r})"

    def __tensor_flatten__(self):
        return ["inner"], None

    @staticmethod
    def __tensor_unflatten__(inner, meta, outer_size, outer_stride):
        return DoubledInnerTensor(inner["inner"])

    @classmethod
    def __torch_dispatch__(cls, func, types, args, kwargs=None):
        inner_args = pytree.tree_map_only(DoubledInnerTensor, lambda t: t.inner, args)
        out = func(*inner_args, **(kwargs or {}))
        if inner_args[0].shape[0] > 3:
            out = out + 2
        return DoubledInnerTensor(out)
