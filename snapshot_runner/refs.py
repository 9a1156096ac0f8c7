"""The REF grammar: what ``drift``, ``bisect`` and ``nightly --report-run`` read
a REF as, and so what a run label or run key may not be spelled as.

A REF is ``golden``, ``latest``, ``previous``, ``newest`` (the newest torch on
the index), a run id (digits), a torch version (``2.14.1``), a date (that
day's nightly), else a run key or a run label. A label or run key spelled like
one of the others would be shadowed by it, or would shadow it.
"""

from __future__ import annotations

from snapshot_runner.envs.index import NEWEST, is_date
from snapshot_runner.torch_version import is_torch_version

REF_WORDS = ("latest", "previous", "golden", NEWEST)


def other_reading(text: str) -> str | None:
    """What a REF reads ``text`` as before any label or run key, or None."""
    word = text.strip()
    if word.lower() in REF_WORDS:
        return f"a REF word ({', '.join(REF_WORDS)})"
    if word.isdigit():
        return "a number, which REFs read as a run id"
    if is_date(word):
        return "a date, which REFs read as that day's torch nightly"
    if is_torch_version(word):
        return "a version, which REFs read as a torch version"
    return None


def name_problem(text: str, what: str) -> str | None:
    """Why ``text`` cannot be a run label or run key (``what``), or None."""
    reading = other_reading(text)
    return f"{text!r} is {reading}, not a {what}" if reading else None
