"""Nested jagged tensors (NJT) as compiled-function inputs, built every way a
view can arise: subclass -> subclass, dense -> subclass, leaf views, the obscure
intermediate-leaf view, and dense -> subclass -> dense -> subclass.

Each case compiles ``x.sin()`` on the view and backprops through it."""

import torch
from torch.nested._internal.nested_tensor import jagged_from_list, nested_view_from_values_offsets

from snapshot_runner import case


def _sin(x):
    return x.sin()


def _jagged(requires_grad: bool = True):
    """Three components of 2, 3 and 4 rows, 3 columns, float64."""
    parts = [torch.randn(n, 3, requires_grad=requires_grad, dtype=torch.float64) for n in (2, 3, 4)]
    nt, _offsets = jagged_from_list(parts, None)
    return nt


def _base(base_is_nt: bool, requires_grad: bool = True):
    x = _jagged(requires_grad)
    return x.clone() if base_is_nt else x


def _basic_view(base_is_nt: bool):
    # A non-leaf view with its base's requires_grad.
    return _base(base_is_nt).unsqueeze(-1)


def _leaf_view(base_is_nt: bool, base_requires_grad: bool, view_requires_grad: bool):
    x = _base(base_is_nt, base_requires_grad)
    with torch.no_grad():
        view = x.unsqueeze(-1)
    view.requires_grad_(view_requires_grad)
    return view


def _obscure_view(base_is_nt: bool):
    # A view of a leaf view that itself came from a base without grad.
    x = _base(base_is_nt, requires_grad=False)
    with torch.no_grad():
        view = x.unsqueeze(-1)
    view.requires_grad_(True)
    return view.unsqueeze(-1)


@case(dynamic=True, tags=("nested", "views"))
def dense_base_basic_view():
    return _sin, (_basic_view(False),)


@case(dynamic=True, tags=("nested", "views"))
def nt_base_basic_view():
    return _sin, (_basic_view(True),)


@case(dynamic=True, tags=("nested", "views"))
def dense_base_leaf_view_grad():
    return _sin, (_leaf_view(False, True, True),)


@case(dynamic=True, tags=("nested", "views"))
def dense_base_leaf_view_no_grad():
    return _sin, (_leaf_view(False, True, False),)


@case(dynamic=True, tags=("nested", "views"))
def nt_base_leaf_view_grad():
    return _sin, (_leaf_view(True, True, True),)


@case(dynamic=True, tags=("nested", "views"))
def nt_base_no_grad_leaf_view_grad():
    return _sin, (_leaf_view(True, False, True),)


@case(dynamic=True, tags=("nested", "views"))
def nt_base_leaf_view_no_grad():
    return _sin, (_leaf_view(True, False, False),)


@case(dynamic=True, tags=("nested", "views"))
def dense_base_obscure_view():
    return _sin, (_obscure_view(False),)


@case(dynamic=True, tags=("nested", "views"))
def nt_base_obscure_view():
    return _sin, (_obscure_view(True),)


@case(dynamic=True, tags=("nested", "views"))
def subclass_to_dense_input():
    return _sin, (_jagged().clone(),)


@case(dynamic=True, tags=("nested", "views"))
def dense_subclass_dense_subclass():
    values = torch.randn(10, 5)
    offsets = torch.tensor([0, 3, 6, 10])
    inner = nested_view_from_values_offsets(values, offsets)
    return _sin, (nested_view_from_values_offsets(inner.values(), offsets),)


@case(dynamic=True, tags=("nested",))
def nested_values_and_offsets_roundtrip():
    """Inside the graph: take values, compute on them, and re-wrap with the same offsets."""

    def f(nt):
        return nested_view_from_values_offsets(nt.values().cos() * 2, nt.offsets())

    return f, (_jagged(),)
