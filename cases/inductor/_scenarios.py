"""Inductor scenarios shared by the CPU cases (cases/inductor/) and the GPU
cases (cases/gpu/): each takes the device and returns ``(fn, args)``.
A helper module: its name starts with '_', so discovery skips it."""

from __future__ import annotations

from typing import Any

import torch
from torch.nested._internal.nested_tensor import jagged_from_list
from torch.testing._internal.two_tensor import TwoTensor

from subclasses._tensors import ScaledTensor

Scenario = tuple[Any, tuple[Any, ...]]


def mlp_gelu(device: str) -> Scenario:
    """Two linears (extern addmm / mm) with the GELU fused between them."""
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4)).to(device)
    return mlp, (torch.randn(4, 8, device=device),)


def layer_norm(device: str) -> Scenario:
    norm = torch.nn.LayerNorm(16).to(device)
    return norm, (torch.randn(8, 16, device=device),)


def softmax_last_dim(device: str) -> Scenario:
    def f(x):
        return torch.softmax(x * 2, dim=-1)

    return f, (torch.randn(8, 32, device=device, requires_grad=True),)


def sum_of_squares_per_row(device: str, columns: int = 64) -> Scenario:
    """A pointwise producer fused into a row reduction."""

    def f(x):
        return (x * x).sum(dim=1) + 1

    return f, (torch.randn(16, columns, device=device),)


def full_sum(device: str) -> Scenario:
    """One reduction over every element (Inductor may split it in two)."""

    def f(x):
        return (x.abs() + 1).sum()

    return f, (torch.randn(64, 1024, device=device),)


def twotensor_mul_add(device: str) -> Scenario:
    """TwoTensor: the subclass is desugared, each op runs on both inner tensors."""

    def f(tt):
        return (tt * 2 + 1).relu()

    a = torch.randn(4, 8, device=device, requires_grad=True)
    return f, (TwoTensor(a, a.detach().clone().requires_grad_(True)),)


def scaled_sin(device: str) -> Scenario:
    """ScaledTensor (inner data plus a scale, float8-training style): the op on its data."""

    def f(x):
        return x.sin() * 2

    return f, (ScaledTensor(torch.randn(4, 8, device=device), torch.ones(1, device=device)),)


def jagged(device: str, requires_grad: bool = True) -> torch.Tensor:
    """Nested jagged tensor of 2, 3 and 4 rows of 8 columns."""
    parts = [torch.randn(n, 8, device=device, requires_grad=requires_grad) for n in (2, 3, 4)]
    nt, _offsets = jagged_from_list(parts, None)
    return nt


def nested_jagged_sin(device: str) -> Scenario:
    def f(nt):
        return nt.sin() + 1

    return f, (jagged(device),)


def nested_jagged_linear(device: str) -> Scenario:
    """A linear over the jagged rows: mm on the packed values."""
    torch.manual_seed(0)
    weight = torch.randn(4, 8, device=device)

    def f(nt):
        return torch.nn.functional.linear(nt, weight).relu()

    return f, (jagged(device, requires_grad=False),)


def _to_float8(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Dynamic float8 (e4m3) scaling as in float8 training: scale from the
    amax, rounded down to a power of two so the cast is exact in eager and compiled."""
    amax = x.abs().max().clamp(min=1e-12)
    scale = torch.exp2(torch.floor(torch.log2(torch.finfo(torch.float8_e4m3fn).max / amax)))
    return (x * scale).to(torch.float8_e4m3fn), scale.reciprocal().float()


def float8_scaled_mm(device: str) -> Scenario:
    """amax, scale and cast kernels feeding ``torch._scaled_mm`` (a float8 linear)."""

    def f(x, w):
        xq, x_inv_scale = _to_float8(x)
        wq, w_inv_scale = _to_float8(w)
        return torch._scaled_mm(xq, wq.t(), scale_a=x_inv_scale, scale_b=w_inv_scale, out_dtype=torch.bfloat16)

    # Small integers: exactly representable in float8 once scaled by a power of two.
    x = torch.randint(-8, 9, (32, 64), device=device).float()
    w = torch.randint(-8, 9, (48, 64), device=device).float()
    return f, (x, w)
