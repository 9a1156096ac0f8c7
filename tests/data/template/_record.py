"""Shared by the cases here: one JSON line per call to the file in $TEMPLATE_TEST_LOG."""

import json
import os


def record_process(name):
    ppid = os.getppid()
    with open(f"/proc/{ppid}/cmdline", "rb") as f:
        parent = [part.decode() for part in f.read().split(b"\0") if part]
    with open(os.environ["TEMPLATE_TEST_LOG"], "a") as out:
        out.write(json.dumps({"case": name, "pid": os.getpid(), "ppid": ppid, "parent": parent}) + "\n")
