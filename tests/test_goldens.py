"""The golden check: one test per discovered case, plus the orphan check.

Both tests come from the package's pytest plugin, so another repository gets the
same suite with this one import.
"""

from snapshot_runner.goldens.pytest_plugin import test_golden, test_golden_orphans  # noqa: F401
