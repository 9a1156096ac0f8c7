"""Tensor subclasses through Inductor on a CUDA GPU: TwoTensor, the scaled
tensor and nested jagged tensors, lowered to Triton."""

from inductor import _scenarios as scenarios

from snapshot_runner import case

GPU = ("cuda", "triton")


@case(backend="inductor", requires=GPU, tags=("gpu", "two_tensor"))
def twotensor_mul_add():
    return scenarios.twotensor_mul_add("cuda")


@case(backend="inductor", requires=GPU, backward=False, tags=("gpu", "scaled"))
def scaled_sin():
    return scenarios.scaled_sin("cuda")


@case(backend="inductor", requires=GPU, tags=("gpu", "nested"))
def nested_jagged_sin():
    return scenarios.nested_jagged_sin("cuda")


@case(backend="inductor", requires=GPU, backward=False, tags=("gpu", "nested"))
def nested_jagged_linear():
    return scenarios.nested_jagged_linear("cuda")
