"""The one sanitizer for text sent to a terminal.

Text the tool did not write (a case's error and output, a file or module name,
a label from the database) may hold ESC, NUL or other control characters that
would drive the terminal; they are shown escaped (``\\x1b``), never sent.
"""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` with every non-printable character (newlines too: one line stays one) escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
