"""How a graph the compiler hands us is printed in an artifact."""

from __future__ import annotations

import torch


def readable(graph: torch.fx.GraphModule) -> str:
    """``print_readable`` with annotated input/output structure where torch has it."""
    try:
        return graph.print_readable(print_output=False, expanded_def=True)
    except TypeError:  # torch before expanded_def
        return graph.print_readable(print_output=False)
