from snapshot_runner import case


@case
def raises_keyboard_interrupt():
    raise KeyboardInterrupt
