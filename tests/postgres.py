"""A throwaway PostgreSQL server for the tests: initdb into a temp dir, start
on a free 127.0.0.1 port, one database, a password (so masking is tested).

Each pytest-xdist worker starts its own server (the fixture is session-scoped
per process), so workers never share a database or fight over a data dir.
PostgreSQL refuses to run as root; as root the server runs as the ``postgres``
user when there is one, else ``nobody``.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "snapshot"
PASSWORD = "s3cret-pw"  # distinctive: tests grep output for it
DATABASE = "history"


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres: PATH first, then Debian's layout."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    # Newest major version first: /usr/lib/postgresql/15/bin, /usr/lib/postgresql/16/bin ...
    candidates += [
        Path(p)
        for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0, reverse=True)
    ]
    for bindir in candidates:
        if all((bindir / tool).is_file() and os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: ourselves unless root, then an unprivileged account."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and there is no 'postgres' or 'nobody' account to run PostgreSQL as")


@dataclasses.dataclass(frozen=True)
class Server:
    port: int
    root: Path

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A fresh empty database on this server; its URL."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, password=PASSWORD, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def running_server(bindir: Path) -> Iterator[Server]:
    account = _server_user()
    root = Path(tempfile.mkdtemp(prefix="snapshot-runner-pg-"))
    run_as: dict[str, object] = {}
    if account is not None:
        os.chown(root, account.pw_uid, account.pw_gid)
        run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    data, sockets, log = root / "data", root / "sock", root / "server.log"

    def as_server(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=120, check=check, **run_as)  # type: ignore[call-overload]

    try:
        pwfile = root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if account is not None:
            os.chown(pwfile, account.pw_uid, account.pw_gid)
        # scram-sha-256 for TCP too: the URL's password is really used.
        as_server(str(bindir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
        sockets.mkdir()
        if account is not None:
            os.chown(sockets, account.pw_uid, account.pw_gid)
        for attempt in range(5):
            port = _free_port()
            # fsync off: a test server's data is thrown away, and fsync is most of its write cost.
            options = f"-p {port} -h 127.0.0.1 -k {sockets} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            started = as_server(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start", check=False)
            if started.returncode == 0:
                break
            # Another process took the port between _free_port and bind: try another.
            if attempt == 4:
                raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()} {log.read_text() if log.exists() else ''}")
        server = Server(port=port, root=root)
        try:
            import psycopg

            with psycopg.connect(host="127.0.0.1", port=port, user=USER, password=PASSWORD, dbname="postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
            yield server
        finally:
            as_server(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)
