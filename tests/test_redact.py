"""Passwords and index tokens never reach the terminal or a report."""

from __future__ import annotations

import pytest

from snapshot_runner.envs.torch_spec import TorchSpec
from snapshot_runner.redact import redact_url, scrub

from .conftest import run_cli


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://u:secret@127.0.0.1:5432/x", "postgresql+psycopg://u:***@127.0.0.1:5432/x"),
        ("postgresql://u:s3c@ret@127.0.0.1/x", "postgresql://u:***@127.0.0.1/x"),  # unescaped @ in the password
        ("u:s3cret@host/db", "u:***@host/db"),  # no scheme: not a URL SQLAlchemy parses
        ("https://__token__:pypi-abc@pypi.example/simple", "https://__token__:***@pypi.example/simple"),
        ("https://ghp_TOKEN@download.example/whl", "https://***@download.example/whl"),
        ("https://download.pytorch.org/whl/nightly/cpu", "https://download.pytorch.org/whl/nightly/cpu"),
        ("sqlite:///db/history.sqlite", "sqlite:///db/history.sqlite"),
        ("git+ssh://git@github.com/pytorch/pytorch", "git+ssh://git@github.com/pytorch/pytorch"),
        # Issue 11: a password in the query string, and URLs whose scheme has a typo.
        ("postgresql://u@127.0.0.1:1/db?password=hunter22", "postgresql://u@127.0.0.1:1/db?password=***"),
        ("postgresql://u@h/db?sslmode=require&PassWord=hunter22&x=1", "postgresql://u@h/db?sslmode=require&PassWord=***&x=1"),
        ("postgresql//u:hunter22@127.0.0.1:1/db", "postgresql//u:***@127.0.0.1:1/db"),
        ("postgresql:/u:hunter22@127.0.0.1:1/db", "postgresql:/u:***@127.0.0.1:1/db"),
        ("sqlite:///path/with@sign.db", "sqlite:///path/with@sign.db"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_scrub_removes_every_piece_of_the_password():
    message = "failed to resolve host 'ret@127.0.0.1': s3c@ret"
    assert "s3c" not in scrub(message, "postgresql://u:s3c@ret@127.0.0.1/x")
    assert "ret@" not in scrub(message, "postgresql://u:s3c@ret@127.0.0.1/x")


def test_scrub_removes_query_string_passwords_from_driver_messages():
    message = 'connection failed: invalid dsn: "host=h password=s3cret&x" near s3cret'
    assert "s3cret" not in scrub(message, "postgresql://u@h/db?password=s3cret")


def test_env_spec_description_masks_index_credentials():
    spec = TorchSpec.parse("2.14.1", "https://user:hunter22@mirror.example/simple")
    assert "hunter22" not in spec.describe() and "user:***@mirror.example" in spec.describe()
    assert "hunter22" in " ".join(spec.installer_args())  # the installer still gets it


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:s3c@ret@127.0.0.1:1/x",
        "u:s3cret@host/db",
        "postgresql+psycopg://u:s3cret@127.0.0.1:notaport/x",
        "postgresql://u@127.0.0.1:1/x?password=s3cret",
        "postgresql//u:s3cret@127.0.0.1:1/x",
        "postgresql+psycopg://u@127.0.0.1:notaport/x?password=s3cret",
    ],
)
def test_database_errors_never_show_the_password(url):
    proc = run_cli("runs", "--db", url)
    assert proc.returncode == 2
    assert "s3c" not in proc.stdout + proc.stderr and "ret@" not in proc.stdout + proc.stderr
