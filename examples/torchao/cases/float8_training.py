"""torchao's float8 training: convert_to_float8_training swaps nn.Linear for
Float8Linear, whose forward and backward cast to float8 with dynamic scales."""

import torch
from torchao.float8 import convert_to_float8_training

from snapshot_runner import case


@case(dynamic=False, backward=True, tags=("float8",))
def float8_linear_training():
    model = convert_to_float8_training(torch.nn.Sequential(torch.nn.Linear(64, 32, bias=False)))
    x = torch.randn(16, 64, requires_grad=True)
    return model, (x,)
