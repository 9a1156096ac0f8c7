"""TwoTensor (two inner tensors ``a`` and ``b``, every op applied to both):
AOTAutograd desugars the subclass into its inner tensors and symbolic sizes."""

import torch
from torch.testing._internal.two_tensor import TwoTensor

from snapshot_runner import case


def _two(*shape: int, requires_grad: bool = True) -> TwoTensor:
    a = torch.ones(*shape, requires_grad=requires_grad)
    return TwoTensor(a, a.detach().clone().requires_grad_(requires_grad))


@case(dynamic=True, tags="two_tensor")
def twotensor_simple():
    def f(tt):
        return tt * tt.size()[0]

    return f, (_two(3, 4),)


@case(dynamic=True, tags="two_tensor")
def twotensor_clone_view():
    def f(tt):
        y = tt.clone()
        return y.view(y.shape[1], y.shape[0])

    a = torch.ones(3, 4, requires_grad=True)
    return f, (TwoTensor(a, a.clone()),)


@case(dynamic=True, tags="two_tensor")
def twotensor_mul_sizes():
    def f(tt):
        rows, cols = tt.size()
        return tt * rows * cols * rows * cols

    return f, (_two(3, 4),)


@case(dynamic=True, backward=True, tags="two_tensor")
def twotensor_view():
    def f(tt):
        y = tt.clone()
        return y.view(y.shape[0], y.shape[1])

    a = torch.ones(3, 4, requires_grad=True)
    return f, (TwoTensor(a, a.clone()),)


@case(dynamic=True, tags="two_tensor")
def twotensor_view_mul():
    def f(tt):
        y = tt.clone()
        return y.view(y.shape[0] * y.shape[1])

    a = torch.ones(3, 4, requires_grad=True)
    return f, (TwoTensor(a, a.clone()),)


@case(dynamic=True, tags="two_tensor")
def twotensor_return_tensor_and_subclass():
    def f(tt):
        y = tt.clone()
        return y.a, y.view(y.shape[0] * y.shape[1])

    a = torch.ones(3, 4, requires_grad=True)
    return f, (TwoTensor(a, a.clone()),)


@case(backend="eager", backward=False, tags=("two_tensor", "recompile"))
def twotensor_then_plain_recompiles():
    """Same subclass type with new values reuses the entry; a plain tensor recompiles."""

    def f(w):
        return torch.add(w, 1.0)

    x = torch.ones(2, 2)
    return f, [(TwoTensor(x.clone(), x.clone()),), (TwoTensor(x + 1, x + 2),), (x,)]


@case(dynamic=False, tags=("two_tensor", "views"))
def twotensor_narrow_view_input():
    def f(x):
        return x * 2

    t = TwoTensor(torch.randn(4, 15), torch.randn(4, 15))
    return f, (t.narrow(dim=-1, start=3, length=8),)


@case(dynamic=True, tags=("two_tensor", "views"))
def twotensor_split_view_input():
    def f(x):
        return x * 2

    t = TwoTensor(torch.randn(4, 15), torch.randn(4, 15))
    return f, (t.split(5, -1)[2],)


@case(dynamic=False, backward=False, tags=("two_tensor", "mutation"))
def twotensor_input_mutation():
    def f(tt):
        tt.add_(1)
        return tt * 2

    return f, (_two(2, 3, requires_grad=False),)


@case(tags=("two_tensor", "dynamic_shapes", "recompile"))
def twotensor_automatic_dynamic():
    """Default dynamic=None: the second shape recompiles with symbolic sizes."""

    def f(tt):
        return (tt * 2).sum(0)

    return f, [(_two(3, 4),), (_two(5, 4),)]


@case(dynamic=False, tags=("two_tensor", "dynamic_shapes"))
def twotensor_mark_dynamic():
    def f(tt):
        return tt.sin() + 1

    first = _two(3, 4)
    torch._dynamo.mark_dynamic(first, 0)
    second = _two(6, 4)
    torch._dynamo.mark_dynamic(second, 0)
    return f, [(first,), (second,)]


@case(fullgraph=False, tags=("two_tensor", "graph_break"))
def twotensor_graph_break():
    def f(tt):
        y = tt * 2
        torch._dynamo.graph_break()
        return y.cos() + 1

    return f, (_two(3, 4),)


@case(dynamic=True, backward=False, tags=("two_tensor", "mixed_outputs"))
def twotensor_and_plain_inputs():
    def f(tt, plain):
        return tt * plain, plain.sin()

    return f, (_two(3, 4), torch.randn(3, 4, requires_grad=True))
