"""The user's pip configuration, as uv options: uv reads none of pip's files.

pip is configured by files (``pip config list``) and ``PIP_*`` variables; an
environment made with uv must see the same indexes, find-links and
certificates, or it would silently install another torch (or none). Settings
that only change pip's own output are dropped; a setting that changes what
gets installed and has no uv equivalent here makes the caller fall back to pip.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

# pip option -> uv flag, for the options that choose what is installed.
_FLAGS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
    "trusted-host": "--allow-insecure-host",
}
# pip option -> environment variable uv reads for the same thing.
_ENV = {"cert": "SSL_CERT_FILE", "client-cert": "SSL_CLIENT_CERT", "timeout": "UV_HTTP_TIMEOUT", "default-timeout": "UV_HTTP_TIMEOUT", "proxy": "HTTPS_PROXY"}
# Options that do not change which files are installed.
_HARMLESS = {
    "disable-pip-version-check",
    "no-input",
    "quiet",
    "verbose",
    "progress-bar",
    "no-color",
    "cache-dir",
    "no-cache-dir",
    "root-user-action",
    "retries",
    "log",
    "require-virtualenv",
    "config-file",  # which file: its settings are read like any other
}
# Sections that apply to `pip install` (pip's own precedence: a command's section over [global]).
_SECTIONS = (":env:", "install", "global")
_LINE = re.compile(r"^(?P<section>[^.]+)\.(?P<key>[^=]+)='(?P<value>.*)'$")


@dataclasses.dataclass(frozen=True)
class UvOptions:
    args: list[str]  # flags for `uv pip install`
    env: dict[str, str]  # variables for it
    untranslatable: list[str]  # pip settings uv cannot honour ("global.only-binary")


def pip_settings() -> dict[str, tuple[str, str]]:
    """The effective pip settings for ``pip install``: key -> (where, value).

    ``PIP_*`` variables win over a file's ``[install]``, which wins over ``[global]``.
    """
    proc = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    found: dict[str, tuple[str, str]] = {}
    for line in proc.stdout.splitlines() if proc.returncode == 0 else []:
        match = _LINE.match(line.strip())
        if match and match["section"] in _SECTIONS:
            rank = _SECTIONS.index(match["section"])
            held = found.get(match["key"])
            if held is None or _SECTIONS.index(held[0]) > rank:
                found[match["key"]] = (match["section"], match["value"])
    return found


def uv_options(settings: dict[str, tuple[str, str]]) -> UvOptions:
    args: list[str] = []
    env: dict[str, str] = {}
    untranslatable: list[str] = []
    for key, (section, value) in sorted(settings.items()):
        if key in _FLAGS:
            for item in value.split():  # pip's list values are whitespace-separated
                args += [_FLAGS[key], item]
        elif key in _ENV:
            env[_ENV[key]] = value
        elif key == "no-index" and value.lower() in ("1", "true", "yes", "on"):
            args.append("--no-index")
        elif key == "pre" and value.lower() in ("1", "true", "yes", "on"):
            args += ["--prerelease", "allow"]
        elif key not in _HARMLESS:
            untranslatable.append(f"PIP_{key.upper().replace('-', '_')}" if section == ":env:" else f"{section}.{key}")
    return UvOptions(args, env, untranslatable)
