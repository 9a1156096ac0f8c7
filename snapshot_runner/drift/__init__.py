"""Drift: what changed between two sides (runs, goldens, a fresh capture), classified and rendered."""
