"""``TensorDictSequential`` of ``TensorDictModule``s: a small policy that
reads ``obs`` and writes ``hidden`` and ``action`` into the TensorDict."""

import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModule, TensorDictSequential

from snapshot_runner import case


def _policy() -> TensorDictSequential:
    return TensorDictSequential(
        TensorDictModule(torch.nn.Linear(4, 8), in_keys=["obs"], out_keys=["hidden"]),
        TensorDictModule(torch.nn.Tanh(), in_keys=["hidden"], out_keys=["hidden"]),
        TensorDictModule(torch.nn.Linear(8, 2), in_keys=["hidden"], out_keys=["action"]),
    )


@case(dynamic=False, backward=False, tags=("tensordict_nn",))
def sequential_policy():
    return _policy(), (TensorDict({"obs": torch.randn(3, 4)}, batch_size=[3]),)


@case(dynamic=False, tags=("tensordict_nn", "backward"))
def sequential_policy_backward():
    """The policy's action, trained: forward and backward graphs."""
    policy = _policy()

    def act(td):
        return policy(td)["action"]

    return act, (TensorDict({"obs": torch.randn(3, 4)}, batch_size=[3]),)
