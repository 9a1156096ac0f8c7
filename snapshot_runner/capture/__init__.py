"""Capture: the torch-only worker side. Case modules in, a ``CaptureReport`` of normalized artifacts out.

Imports nothing of the host side (database, syrupy, rich): it runs in a worker
under any torch and any Python from 3.9 (``scripts/check_layout.py`` checks it).
"""
