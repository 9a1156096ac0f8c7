"""Plain models through Inductor on the CPU (C++ kernels): what fuses with
what, and which calls stay extern (addmm, mm)."""

from inductor import _scenarios as scenarios

from snapshot_runner import case


@case(backend="inductor", tags=("inductor", "fusion"))
def mlp_gelu():
    return scenarios.mlp_gelu("cpu")


@case(backend="inductor", inductor_code=True, tags=("inductor", "code"))
def mlp_gelu_code():
    """The MLP again, with the full generated code kept."""
    return scenarios.mlp_gelu("cpu")


@case(backend="inductor", tags=("inductor", "reduction"))
def layer_norm():
    return scenarios.layer_norm("cpu")


@case(backend="inductor", tags=("inductor", "reduction"))
def softmax_last_dim():
    return scenarios.softmax_last_dim("cpu")


@case(backend="inductor", backward=False, tags=("inductor", "reduction"))
def sum_of_squares_per_row():
    return scenarios.sum_of_squares_per_row("cpu")
