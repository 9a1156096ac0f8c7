"""Credentials never leave the process: URLs and DSNs are shown with their passwords masked.

Works on text that does not parse as a URL too (a typo in the scheme must not
print the password it holds), on passwords holding an unescaped ``@``, on
passwords given as query parameters (``?password=...``) and on libpq
key=value DSNs (``host=x password=secret``, quoted values too). ``redact``
masks every such form anywhere in a message; every error line the CLI prints
goes through it.
"""

from __future__ import annotations

import re

# Parameters that carry a credential (libpq's, SQLAlchemy drivers', index tokens):
# in a query string (``?password=``) or a libpq DSN (``host=x password='a b'``).
_SECRET_PARAMETER = re.compile(
    r"(?P<name>(?<![^?&;\s'\"(])(?:password|passwd|pwd|sslpassword|secret|token|access_token|api_key|apikey)\s*=\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|[^&;#\s'\"]*)",
    re.IGNORECASE,
)
# Where a URL's user info may hide in free text: a token holding ``@``.
_AT_TOKEN = re.compile(r"[^\s'\"<>()\[\]]*@[^\s'\"<>()\[\]]*")
# Shorter pieces are too likely to match innocent text.
_MIN_SECRET = 3
MASK = "***"


def _userinfo(url: str) -> tuple[str, str, str | None, str] | None:
    """``(scheme, user, password, rest)`` of ``scheme://user:password@rest``, found
    without parsing: the user info runs to the last ``@`` and starts after the
    last ``/`` before it (``//`` of a scheme, or of a scheme with a typo)."""
    head, at, rest = url.rpartition("@")
    if not at:
        return None
    cut = head.rfind("/") + 1
    scheme, info = head[:cut], head[cut:]
    if not info or any(c.isspace() for c in info):
        return None
    user, colon, password = info.partition(":")
    return scheme, user, password if colon else None, rest


def _mask_parameters(text: str) -> str:
    return _SECRET_PARAMETER.sub(lambda m: m["name"] + (MASK if m["value"] not in ("", "''") else m["value"]), text)


def redact_url(url: str) -> str:
    """``postgresql://u:secret@host/db`` → ``postgresql://u:***@host/db``;
    ``https://TOKEN@host/simple`` → ``https://***@host/simple``;
    ``postgresql://u@host/db?password=secret`` → ``...?password=***``."""
    parts = _userinfo(url)
    if parts is None:
        return _mask_parameters(url)
    scheme, user, password, rest = parts
    if password is not None:
        return _mask_parameters(f"{scheme}{user}:{MASK}@{rest}")
    if scheme.startswith("http"):  # an index token given as the user name
        return _mask_parameters(f"{scheme}{MASK}@{rest}")
    return _mask_parameters(url)


def secrets(url: str) -> list[str]:
    """Every credential ``url`` holds: its password (and the pieces of one
    holding ``@``), the values of its secret query parameters."""
    found = [m["value"].strip("'") for m in _SECRET_PARAMETER.finditer(url)]
    parts = _userinfo(url)
    if parts is not None and parts[2]:
        found += [parts[2], *parts[2].split("@")]
    return sorted({s for s in found if len(s) >= _MIN_SECRET}, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) without any of ``url``'s credentials."""
    for secret in secrets(url):
        text = text.replace(secret, MASK)
    return _mask_parameters(text)


def redact(text: str) -> str:
    """``text`` (a message, a report, a file's content) with the password of every
    URL and DSN in it masked, wherever in the text they are."""
    return _AT_TOKEN.sub(lambda m: redact_url(m[0]), _mask_parameters(text))
