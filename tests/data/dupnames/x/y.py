import torch

from snapshot_runner import case


@case(backend="eager", backward=False)
def from_package_dir():
    return (lambda x: x + 2), (torch.ones(2),)
