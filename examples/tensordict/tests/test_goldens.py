"""The golden check of this project's cases: `pytest` checks, `pytest --snapshot-update` rewrites."""

from snapshot_runner.goldens.pytest_plugin import test_golden, test_golden_orphans  # noqa: F401
