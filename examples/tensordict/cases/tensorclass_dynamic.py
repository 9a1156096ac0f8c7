"""A ``@tensorclass`` dataclass of tensors through one dynamic graph: two
batch sizes, the second compiled once with a symbolic batch."""

import torch
from tensordict import tensorclass

from snapshot_runner import case


@tensorclass
class Transition:
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor


def _batch(n: int) -> Transition:
    return Transition(obs=torch.randn(n, 4), action=torch.randn(n, 2), reward=torch.randn(n, 1), batch_size=[n])


@case(dynamic=True, backward=False, tags=("tensorclass", "dynamic_shapes"))
def tensorclass_dynamic_batch():
    def discounted(t):
        return Transition(obs=t.obs * 0.5, action=t.action.clamp(-1, 1), reward=t.reward * 0.99 + t.obs.sum(-1, keepdim=True), batch_size=t.batch_size)

    return discounted, [(_batch(4),), (_batch(7),)]


@case(dynamic=True, backward=False, tags=("tensorclass", "dynamic_shapes"))
def tensorclass_index_and_stack():
    """Indexing a tensorclass and reading its batch size inside the graph."""

    def head(t):
        first = t[: t.batch_size[0] // 2]
        return first.obs + first.reward

    return head, [(_batch(6),), (_batch(8),)]
