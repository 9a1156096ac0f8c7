import ctypes

from snapshot_runner import case


@case
def segfaults():
    ctypes.string_at(0)
