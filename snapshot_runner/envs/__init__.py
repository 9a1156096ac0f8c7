"""Environments: which torch runs a capture (this interpreter, ``--python``, or a cached ``--torch`` environment)."""
