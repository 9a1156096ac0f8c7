import torch

from snapshot_runner import case


@case(backend="eager", backward=False)
def from_dotted_file():
    return (lambda x: x + 1), (torch.ones(2),)
