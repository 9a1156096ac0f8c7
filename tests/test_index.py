"""Bisect's candidates and ``newest``: PEP 440 order and what lies between two
ends (on lists), dates to nightlies, pip's configuration as uv options (read
by the real pip), and the real registry for ``newest`` and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from snapshot_runner.envs.index import PackageIndexError, between, list_versions, nightly_of, wants_pre
from snapshot_runner.envs.pip_config import pip_settings, uv_options

from .conftest import run_cli

PUBLISHED = [
    "2.15.0", "2.14.1", "2.14.0", "2.14.0rc1", "2.13.0+cpu", "2.13.0",
    "2.14.0.dev20261101", "2.14.0.dev20261102+cpu", "2.14.0.dev20261127", "2.13.1",
]  # fmt: skip


def test_releases_between_releases_leave_out_pre_releases_and_nightlies() -> None:
    assert between(PUBLISHED, "2.13.0", "2.14.1") == ["2.13.1", "2.14.0"]
    assert between(PUBLISHED, "2.13", "2.14.1+cu130") == ["2.13.1", "2.14.0"]  # 2.13 is 2.13.0; local tags ignored
    assert between(PUBLISHED, "2.14.0", "2.14.1") == []


def test_nightlies_between_nightlies_in_pep440_order() -> None:
    assert between(PUBLISHED, "2.14.0.dev20261101", "2.14.0.dev20261127") == ["2.14.0.dev20261102"]
    # A nightly sorts after the last release and before its own release and rc.
    assert between(PUBLISHED, "2.13.1", "2.14.0.dev20261127") == ["2.14.0.dev20261101", "2.14.0.dev20261102"]
    assert between(PUBLISHED, "2.13.1", "2.14.0rc1") == []
    # Each kind only when an end is of it: nightlies here, not the rc.
    assert between(PUBLISHED, "2.14.0.dev20261101", "2.14.0") == ["2.14.0.dev20261102", "2.14.0.dev20261127"]
    assert wants_pre(["2.13.1", "2.14.0.dev20261127"]) and wants_pre(["2.14.0rc1"]) and not wants_pre(["2.13.0", "2.14.1"])


def test_a_date_is_that_days_nightly() -> None:
    assert nightly_of("2026-11-02", PUBLISHED) == "2.14.0.dev20261102"  # the local tag goes, as in every candidate
    with pytest.raises(PackageIndexError, match=r"^no torch nightly of 2026-11-03 on the package index; nightlies there: "):
        nightly_of("2026-11-03", [v for v in PUBLISHED if "dev" in v])
    with pytest.raises(PackageIndexError, match=r"it has no nightlies \(--index-url a nightly index\?\)"):
        nightly_of("2026-11-03", ["2.13.0", "2.14.0"])
    with pytest.raises(PackageIndexError, match="not a date: '2026-13-01'"):
        nightly_of("2026-13-01", PUBLISHED)


def test_pip_configuration_becomes_uv_options() -> None:
    settings = {
        "index-url": ("install", "https://mirror/simple"),
        "extra-index-url": ("global", "file:///opt/pypi/simple file:///opt/pypi-more/simple"),
        "find-links": (":env:", "/opt/wheels"),
        "cert": ("global", "/etc/ssl/certs/ca.crt"),
        "disable-pip-version-check": (":env:", "1"),
        "only-binary": ("install", ":all:"),
    }
    options = uv_options(settings)
    assert options.args == [
        "--extra-index-url", "file:///opt/pypi/simple", "--extra-index-url", "file:///opt/pypi-more/simple",
        "--find-links", "/opt/wheels", "--index-url", "https://mirror/simple",
    ]  # fmt: skip
    assert options.env == {"SSL_CERT_FILE": "/etc/ssl/certs/ca.crt"}
    assert options.untranslatable == ["install.only-binary"]


def test_pip_settings_are_read_by_pip_with_its_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nindex-url = https://global/simple\nfind-links = /from/global\n[install]\nindex-url = https://install/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    monkeypatch.setenv("PIP_FIND_LINKS", "/from/env")
    settings = pip_settings()
    assert settings["index-url"] == ("install", "https://install/simple")
    assert settings["find-links"] == (":env:", "/from/env")


def test_the_registry_lists_torch_releases_in_order() -> None:
    versions = list_versions()
    assert {"2.13.0", "2.14.0", "2.14.1", "2.15.0"} <= set(versions)
    assert versions.index("2.13.0") < versions.index("2.14.0") < versions.index("2.14.1") < versions.index("2.15.0")
    assert between(versions, "2.13.0", "2.14.1") == ["2.14.0"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["capture", "--torch", "newest", "--index-url", "https://nowhere.invalid/simple"],
            "--torch newest: cannot reach the package index (--index-url https://nowhere.invalid/simple): Failed to establish a new connection",
        ),
        (
            ["bisect", "subclasses.two_tensor::twotensor_view", "--good", "2026-11-01", "--bad", "2026-11-27"],
            "--good 2026-11-01: no torch nightly of 2026-11-01 on the package index; it has no nightlies (--index-url a nightly index?)",
        ),
    ],
)
def test_index_bad_input_is_one_line(tmp_path: Path, argv: list[str], message: str) -> None:
    proc = run_cli(*argv, "--envs-dir", str(tmp_path / "envs"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"snapshot-runner: error: {message}") and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "envs").exists()


def test_a_pip_that_fails_is_an_index_error() -> None:
    """pip itself failing (here: a setting it refuses) is PackageIndexError with pip's reason, which commands print as one line."""
    env = {**os.environ, "PIP_RETRIES": "many"}
    proc = subprocess.run(
        [sys.executable, "-c", "from snapshot_runner.envs.index import list_versions; list_versions()"], capture_output=True, text=True, env=env
    )
    assert "PackageIndexError: no torch on the package index" in proc.stderr.strip().splitlines()[-1]
