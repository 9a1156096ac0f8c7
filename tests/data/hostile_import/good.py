import torch

from snapshot_runner import case


@case(dynamic=False)
def good_first():
    def f(x):
        return (x.sin() + 1) * x.shape[0]

    return f, (torch.ones(2, 3, requires_grad=True),)
