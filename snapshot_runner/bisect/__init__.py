"""Bisect: the first torch version that changed a case's artifact (search order, bisector, report)."""
