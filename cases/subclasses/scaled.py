"""Wrapper subclasses with inner data, a scale and a context constant
(the float8/scaled-tensor pattern), and with context metadata that Dynamo
must guard on."""

import torch
from torch.testing._internal.two_tensor import TwoTensor

from snapshot_runner import case
from subclasses._tensors import (
    AtLeastCtxTensor,
    ConstantCtxTensor,
    DoubledInnerTensor,
    MaybeScaledTensor,
    ScaledTensor,
)


def _sin(x):
    return x.sin()


@case(dynamic=True, backward=False, tags=("scaled", "dynamic_shapes"))
def scaled_same_sized_inner_dynamic():
    """dynamic=True: new outer and scale sizes reuse one graph."""
    return _sin, [
        (ScaledTensor(torch.randn(2, 4), torch.randn(6)),),
        (ScaledTensor(torch.randn(3, 5), torch.randn(7)),),
    ]


@case(dynamic=False, backward=False, tags=("scaled", "recompile"))
def scaled_static_recompiles_on_data_size():
    return _sin, [
        (ScaledTensor(torch.randn(2, 4), torch.randn(6)),),
        (ScaledTensor(torch.randn(3, 5), torch.randn(6)),),
    ]


@case(dynamic=False, backward=False, tags=("scaled", "dynamic_shapes"))
def scaled_mark_dynamic_reaches_inner():
    """mark_dynamic on the wrapper carries over to same-sized inner tensors."""
    first = ScaledTensor(torch.randn(2, 4), torch.randn(6))
    torch._dynamo.mark_dynamic(first, 0)
    torch._dynamo.mark_dynamic(first, 1)
    return _sin, [(first,), (ScaledTensor(torch.randn(3, 5), torch.randn(6)),)]


@case(dynamic=False, backward=False, tags=("scaled", "recompile"))
def scaled_recompiles_on_scale_size():
    first = ScaledTensor(torch.randn(2, 4), torch.randn(3))
    torch._dynamo.mark_dynamic(first, 0)
    torch._dynamo.mark_dynamic(first, 1)
    return _sin, [(first,), (ScaledTensor(torch.randn(2, 4), torch.randn(5)),)]


@case(dynamic=True, backward=False, tags=("scaled", "recompile"))
def optional_scale_recompiles():
    def f(x):
        return x + 1

    return f, [
        (MaybeScaledTensor(torch.randn(2, 4), None),),
        (MaybeScaledTensor(torch.randn(2, 4), torch.randn(2, 4)),),
    ]


@case(backward=False, tags="scaled")
def scaled_attribute_on_intermediate():
    def f(x):
        tmp = torch.add(x, 1)
        return torch.mul(tmp._scale, tmp._constant)

    return f, (ScaledTensor(torch.randn(2, 4), torch.randn(3), constant=2),)


@case(dynamic=True, backward=False, tags=("scaled", "matmul"))
def scaled_matmul_forward():
    """A float8-style linear: a scaled weight times a plain activation."""

    def f(w, x):
        return torch.mm(w, x.t()).relu()

    w = ScaledTensor(torch.randn(8, 16), torch.tensor([0.5]))
    return f, (w, torch.randn(4, 16))


@case(dynamic=False, backward=False, tags=("metadata", "recompile"))
def ctx_metadata_same_constant():
    def f(x):
        return x * x

    return f, [(ConstantCtxTensor(torch.ones(2), 3),), (ConstantCtxTensor(torch.ones(2), 3),)]


@case(dynamic=False, backward=False, tags=("metadata", "recompile"))
def ctx_metadata_changed_constant():
    def f(x):
        return x * x

    return f, [(ConstantCtxTensor(torch.ones(2), 3),), (ConstantCtxTensor(torch.ones(2), 4),)]


@case(dynamic=False, backward=False, tags=("metadata", "recompile"))
def ctx_metadata_nested_in_twotensor():
    def f(x):
        return x * x

    x0 = torch.ones(2, 2)
    return f, [
        (TwoTensor(x0.clone(), ConstantCtxTensor(x0.clone(), 2)),),
        (TwoTensor(x0.clone(), ConstantCtxTensor(x0.clone(), 3)),),
    ]


@case(dynamic=False, backward=False, tags=("metadata", "recompile"))
def ctx_custom_metadata_guard():
    """__metadata_guard__ accepts a larger constant (2 -> 3) but not a smaller one (-> 1)."""

    def f(x):
        return x + x

    return f, [
        (AtLeastCtxTensor(torch.ones(2), 2),),
        (AtLeastCtxTensor(torch.ones(2), 3),),
        (AtLeastCtxTensor(torch.ones(2), 1),),
    ]


@case(backend="eager", backward=False, tags=("guards", "dynamic_shapes"))
def inner_tensor_size_guards():
    def f(x):
        if x.shape[0] < 13:
            return torch.mul(x, x)
        return torch.div(x, x)

    x = DoubledInnerTensor(torch.ones(4, 4))
    torch._dynamo.mark_dynamic(x, 0)
    return f, (x,)
