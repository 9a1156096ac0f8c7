"""Plain models through Inductor on a CUDA GPU (Triton kernels). Skipped where
CUDA or Triton is missing; goldens live under the GPU variant directory
(snapshots/cuda-torch<version>/...)."""

from inductor import _scenarios as scenarios

from snapshot_runner import case

GPU = ("cuda", "triton")


@case(backend="inductor", requires=GPU, tags=("gpu", "fusion"))
def mlp_gelu():
    return scenarios.mlp_gelu("cuda")


@case(backend="inductor", requires=GPU, inductor_code=True, tags=("gpu", "code"))
def mlp_gelu_code():
    """The MLP again, with the Triton source kept."""
    return scenarios.mlp_gelu("cuda")


@case(backend="inductor", requires=GPU, tags=("gpu", "reduction"))
def layer_norm():
    return scenarios.layer_norm("cuda")


@case(backend="inductor", requires=GPU, tags=("gpu", "reduction"))
def softmax_last_dim():
    return scenarios.softmax_last_dim("cuda")


@case(backend="inductor", requires=GPU, backward=False, tags=("gpu", "reduction"))
def sum_of_squares_per_row():
    """64 columns: a persistent reduction."""
    return scenarios.sum_of_squares_per_row("cuda")


@case(backend="inductor", requires=GPU, backward=False, tags=("gpu", "reduction"))
def sum_of_squares_wide_rows():
    """8192 columns: a looped (non-persistent) reduction."""
    return scenarios.sum_of_squares_per_row("cuda", columns=8192)


@case(backend="inductor", requires=GPU, backward=False, tags=("gpu", "reduction"))
def full_sum():
    return scenarios.full_sum("cuda")


@case(backend="inductor", requires=GPU, backward=False, inductor_code=True, tags=("gpu", "float8"))
def float8_scaled_mm():
    return scenarios.float8_scaled_mm("cuda")
