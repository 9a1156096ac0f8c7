"""14 cheap cases for tests/test_shards_concurrent.py, with a gate so that the
test does not depend on timing. With ``SHARD_GATE`` (a directory) set, every
shard's first case marks its shard (``SHARD_INDEX``) and waits until all
``SHARD_COUNT`` shards have a case running: the parts run at the same time.
With ``SHARD_HOLD`` also set, the shard's later cases wait to be killed."""

import os
import time
from pathlib import Path

import torch

from snapshot_runner import case


def _gate(k: int) -> None:
    gate = os.environ.get("SHARD_GATE")
    if not gate:
        return
    mine = Path(gate) / os.environ["SHARD_INDEX"]
    # A factory runs more than once a case (eager and compiled): the marker names the shard's first case.
    if mine.exists() and mine.read_text() != str(k):  # a later case of this shard
        if os.environ.get("SHARD_HOLD"):
            time.sleep(600)  # killed here by the test
        return
    mine.write_text(str(k))
    deadline = time.monotonic() + 300
    while len(list(Path(gate).iterdir())) < int(os.environ["SHARD_COUNT"]) and time.monotonic() < deadline:
        time.sleep(0.05)


def _make(k: int):
    def factory():
        _gate(k)

        def f(x):
            return torch.sin(x) * k + torch.cos(x)

        return f, (torch.full((2, 3), float(k)),)

    factory.__name__ = f"c{k:02d}"
    return case(backend="eager")(factory)


for _k in range(14):
    globals()[f"c{_k:02d}"] = _make(_k)
