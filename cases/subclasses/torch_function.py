"""__torch_function__ subclasses: Dynamo inlines the override and the graph holds
plain tensor ops. These run with the eager backend (Dynamo graph only), as in
PyTorch's own tests."""

import torch

from snapshot_runner import case
from subclasses._tensors import (
    AttrCarryingTF,
    BoxedTensor,
    FakeNDimTF,
    PassthroughTF,
    RaisingNewTF,
    SigmoidAsExpTF,
)


@case(backend="eager", tags="torch_function")
def passthrough_add():
    def f(x):
        return torch.add(x, 1)

    return f, (torch.ones(2, 2).as_subclass(PassthroughTF),)


@case(backend="eager", tags="torch_function")
def class_attribute_read():
    def f(x):
        return x.scale_hint + torch.ones(2, 2)

    return f, (torch.ones(2, 2).as_subclass(AttrCarryingTF),)


@case(backend="eager", tags="torch_function")
def overridden_ndim():
    def f(w):
        return w.ndim + torch.ones(2)

    return f, (torch.ones(2, 2).as_subclass(FakeNDimTF),)


@case(backend="eager", tags="torch_function")
def sigmoid_becomes_exp():
    def f(w):
        return w.sigmoid() * 2

    return f, (torch.randn(2, 2).as_subclass(SigmoidAsExpTF),)


@case(backend="eager", tags="torch_function")
def non_tensor_wrapper():
    def f(w):
        return torch.add(w, 1.0)

    return f, (BoxedTensor(torch.ones(2, 2)),)


@case(backend="eager", tags="torch_function")
def non_tensor_wrapper_kwargs():
    def f(w):
        return torch.add(w, 1.0, alpha=2.0)

    return f, (BoxedTensor(torch.ones(2, 2)),)


@case(backend="eager", tags="torch_function")
def subclass_without_new_call():
    def f(x):
        return torch.add(x, 1)

    return f, (torch.ones(2, 2).as_subclass(RaisingNewTF),)


@case(backend="eager", tags="torch_function")
def return_constructed_subclass():
    def f(x):
        return PassthroughTF(torch.add(x, 1.0)) * 2

    return f, (torch.ones(2, 2),)


@case(backend="eager", tags="torch_function")
def return_as_subclass():
    def f(x):
        return torch.add(x, 1.0).as_subclass(PassthroughTF) * 2

    return f, (torch.ones(2, 2),)


@case(backend="eager", tags=("torch_function", "mutation"))
def make_subclass_aliases_input():
    class Plain(torch.Tensor):
        pass

    def f(x):
        y = torch.Tensor._make_subclass(Plain, x)
        z = torch.Tensor._make_subclass(torch.Tensor, x)
        x += 1
        y += 2
        z += 3
        return x * y + z

    return f, (torch.randn(2, 2),)


@case(backend="eager", tags="torch_function")
def disabled_torch_function_transposes():
    class NoTF(torch.Tensor):
        __torch_function__ = torch._C._disabled_torch_function_impl

    def f(x):
        return x.t().T + 1

    return f, (torch.randn(2, 3).as_subclass(NoTF),)


@case(backend="eager", tags="torch_function")
def isinstance_check_on_subclass():
    def f(x):
        if isinstance(x, FakeNDimTF):
            return torch.ones(1, 1)
        return torch.zeros(2, 2)

    return f, [(torch.ones(2, 2).as_subclass(FakeNDimTF),), (torch.ones(2, 2),)]


@case(backend="eager", fullgraph=False, tags=("torch_function", "graph_break"))
def disabled_subclass_mode_graph_break():
    def f(x):
        with torch._C.DisableTorchFunctionSubclass():
            torch._dynamo.graph_break()
            return torch._C._is_torch_function_enabled(), torch.add(x, 1.0)

    return f, (torch.ones(2, 2),)


@case(backend="eager", tags="torch_function")
def parameter_subclass_keeps_metadata():
    """A Parameter subclass that re-wraps every result with quantization metadata
    (the GGUF pattern from diffusers); Dynamo must not graph-break on it."""

    class QuantParameter(torch.nn.Parameter):
        def __new__(cls, data, requires_grad=False, quant_type=None):
            return torch.Tensor._make_subclass(cls, data, requires_grad)

        def __init__(self, *args, quant_type=None, **kwargs):
            self.quant_type = quant_type

        def as_tensor(self):
            return torch.Tensor._make_subclass(torch.Tensor, self, self.requires_grad)

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            result = super().__torch_function__(func, types, args, kwargs or {})
            quant_type = next((a.quant_type for a in args if isinstance(a, QuantParameter)), None)
            if isinstance(result, torch.Tensor):
                return cls(result, quant_type=quant_type)
            return result

    def f(x):
        tmp = x * 2
        tmp = tmp + tmp.quant_type
        return tmp.as_tensor() * 3

    return f, (QuantParameter(torch.ones(2), quant_type=42),)
