import time

from snapshot_runner import case


@case(timeout=3)
def never_returns():
    while True:
        time.sleep(0.1)
