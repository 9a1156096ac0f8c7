"""Starts a thread when imported: the template must not fork after that."""

import json
import os
import threading

import torch

from snapshot_runner import case

_idle = threading.Event()
threading.Thread(target=_idle.wait, daemon=True).start()


@case
def records_parent():
    with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
        parent = [part.decode() for part in f.read().split(b"\0") if part]
    with open(os.environ["TEMPLATE_TEST_LOG"], "a") as out:
        out.write(json.dumps({"case": "records_parent", "pid": os.getpid(), "parent": parent}) + "\n")
    return (lambda x: x * 2), (torch.ones(3, requires_grad=True),)
