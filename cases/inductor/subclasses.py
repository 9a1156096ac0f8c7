"""Tensor subclasses through Inductor on the CPU: after AOTAutograd desugars
them, which kernels do their inner tensors get?"""

from inductor import _scenarios as scenarios

from snapshot_runner import case


@case(backend="inductor", tags=("inductor", "two_tensor"))
def twotensor_mul_add():
    return scenarios.twotensor_mul_add("cpu")


@case(backend="inductor", backward=False, tags=("inductor", "scaled"))
def scaled_sin():
    return scenarios.scaled_sin("cpu")


@case(backend="inductor", tags=("inductor", "nested"))
def nested_jagged_sin():
    return scenarios.nested_jagged_sin("cpu")


@case(backend="inductor", backward=False, tags=("inductor", "nested"))
def nested_jagged_linear():
    return scenarios.nested_jagged_linear("cpu")
