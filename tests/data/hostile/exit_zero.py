import sys

from snapshot_runner import case


@case
def exits_zero():
    sys.exit(0)
