"""torchao's int8 weight-only quantization: quantize_ swaps a Linear's
weight for an int8 tensor subclass with per-row scales."""

import torch
from torchao.quantization import Int8WeightOnlyConfig, quantize_

from snapshot_runner import case


def _model() -> torch.nn.Module:
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16))
    quantize_(model, Int8WeightOnlyConfig())
    return model


@case(dynamic=False, backward=False, tags=("int8",))
def int8_weight_only_mlp():
    return _model(), (torch.randn(4, 64),)


@case(dynamic=True, backward=False, tags=("int8", "dynamic_shapes"))
def int8_weight_only_dynamic_batch():
    """Two batch sizes through one dynamic graph."""
    return _model(), [(torch.randn(4, 64),), (torch.randn(6, 64),)]
