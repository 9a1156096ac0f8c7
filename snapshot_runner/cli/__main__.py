"""``python -m snapshot_runner.cli``: the same command line without the installed script."""

import sys

from snapshot_runner.cli import main

sys.exit(main())
