"""NF4 (QLoRA's 4-bit NormalFloat) weights from torchao: a frozen NF4Tensor
weight in a linear whose input gets a gradient, as in QLoRA fine-tuning."""

import torch
from torchao.quantization.quantize_.workflows.nf4.nf4_tensor import linear_nf4, to_nf4

from snapshot_runner import case


@case(dynamic=False, backward=True, tags=("nf4",))
def nf4_linear():
    # 256 x 64 = 16384 elements: divisible by the block size (64) and by the
    # scaler block size (256) that to_nf4 needs.
    weight = to_nf4(torch.randn(256, 64, dtype=torch.bfloat16))
    x = torch.randn(8, 64, dtype=torch.bfloat16, requires_grad=True)
    return linear_nf4, (x, weight)


@case(dynamic=False, backward=False, tags=("nf4",))
def nf4_dequantize():
    """The weight alone: NF4Tensor -> bfloat16, traced through the subclass."""
    weight = to_nf4(torch.randn(256, 64, dtype=torch.bfloat16))

    def f(w):
        return w.to(torch.bfloat16) * 2

    return f, (weight,)
