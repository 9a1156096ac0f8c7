import os

from snapshot_runner import case


@case
def os_exit_one():
    os._exit(1)
