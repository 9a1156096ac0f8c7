"""``snapshot-runner serve``: the history database as a read-only web service."""
