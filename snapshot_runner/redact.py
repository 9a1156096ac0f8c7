"""Credentials never leave the process: URLs are shown with their passwords masked.

Works on text that does not parse as a URL too (a typo must not print the
password it holds), and on passwords holding an unescaped ``@``.
"""

from __future__ import annotations

import re

# scheme://user:password@rest, where the password runs to the last "@".
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][\w+.-]*://)?(?P<user>[^\s:/@]*)(?::(?P<password>.*))?@(?P<rest>[^@]*)$", re.DOTALL)
# Shorter pieces are too likely to match innocent text.
_MIN_SECRET = 3


def redact_url(url: str) -> str:
    """``postgresql://u:secret@host/db`` → ``postgresql://u:***@host/db``;
    ``https://TOKEN@host/simple`` → ``https://***@host/simple``."""
    match = _USERINFO.match(url)
    if not match:
        return url
    scheme = match["scheme"] or ""
    if match["password"] is not None:
        return f"{scheme}{match['user']}:***@{match['rest']}"
    if scheme.startswith("http"):  # an index token given as the user name
        return f"{scheme}***@{match['rest']}"
    return url


def scrub(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) without any piece of ``url``'s password."""
    match = _USERINFO.match(url)
    if not match or not match["password"]:
        return text
    password = match["password"]
    for piece in sorted({password, *password.split("@")}, key=len, reverse=True):
        if len(piece) >= _MIN_SECRET:
            text = text.replace(piece, "***")
    return text
