"""A helper module in the cases directory that a case may mutate."""

VALUE = 0
