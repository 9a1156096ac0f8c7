"""Records which process ran it and who started that process, then kills its worker."""

import os

from _record import record_process

from snapshot_runner import case


@case
def crashes():
    record_process("crashes")
    os._exit(1)
