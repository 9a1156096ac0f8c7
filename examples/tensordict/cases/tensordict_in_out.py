"""TensorDict in, TensorDict out: a compiled function that reads entries by
key, computes, and returns a new TensorDict with the same batch size."""

import torch
from tensordict import TensorDict

from snapshot_runner import case


def _td(batch: int) -> TensorDict:
    return TensorDict({"obs": torch.randn(batch, 4), "reward": torch.randn(batch, 1)}, batch_size=[batch])


@case(dynamic=False, backward=False, tags=("tensordict",))
def td_in_out():
    def step(td):
        return TensorDict({"value": td["obs"].relu().sum(-1, keepdim=True) + td["reward"], "obs": td["obs"] * 2}, batch_size=td.batch_size)

    return step, (_td(3),)


@case(dynamic=False, backward=False, tags=("tensordict",))
def td_apply_arithmetic():
    """Whole-TensorDict arithmetic and ``apply`` over every leaf."""

    def normalize(td):
        centered = td - td.apply(lambda t: t.mean(0, keepdim=True), batch_size=[1])
        return centered.apply(torch.tanh)

    return normalize, (_td(5),)
