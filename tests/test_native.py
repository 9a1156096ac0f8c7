"""`native` normalization reproduces PyTorch's own expected strings, byte for byte."""

from pathlib import Path

import pytest
import torch

from snapshot_runner.capture.discovery import discover
from snapshot_runner.capture.normalize import Context
from snapshot_runner.capture.recorder import capture_case

from .conftest import CASES

EXPECTED = Path(__file__).parent / "data" / "pytorch_expected"


@pytest.mark.skipif(not torch.__version__.startswith("2.13."), reason="expected strings are torch 2.13's")
@pytest.mark.parametrize("name", ["twotensor_view", "twotensor_view_mul"])
def test_native_equals_pytorch_expected(name: str) -> None:
    case = discover(CASES).by_name()[f"subclasses.two_tensor::{name}"]
    result = capture_case(case, level="native", ctx=Context.current(CASES))
    assert result.status == "ok", result.error
    for key in ("aot_forward", "aot_backward"):
        assert result.artifacts[key] == (EXPECTED / f"{name}.{key}.txt").read_text()
