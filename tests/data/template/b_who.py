"""Records which process ran it and who started that process; one Inductor graph."""

import torch
from _record import record_process

from snapshot_runner import case


@case(backend="inductor")
def who_first():
    record_process("who_first")
    return (lambda x: x.cos() + 1), (torch.arange(6.0, requires_grad=True),)


@case(backend="inductor")
def who_second():
    record_process("who_second")
    return (lambda x: x.sin() * 3), (torch.arange(6.0, requires_grad=True),)
