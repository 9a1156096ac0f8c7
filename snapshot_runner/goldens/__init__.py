"""Goldens: the snapshot layout, the syrupy extension and the pytest plugin that keep artifacts as plain-text files."""
