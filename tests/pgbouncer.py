"""A real PgBouncer in transaction-pooling mode in front of the test database."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

# PgBouncer refuses startup parameters it does not know unless told to drop them; the
# statement timeout must then be set on the role or database (see the README).
INI = """[databases]
recording = host={host} port={port} dbname={dbname} user={user}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
logfile = {directory}/pgbouncer.log
pidfile = {directory}/pgbouncer.pid
ignore_startup_parameters = extra_float_digits,statement_timeout
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_as(host: str) -> str | None:
    """PgBouncer will not run as root: as root, take a user that can reach the server."""
    if os.geteuid() != 0:
        return None
    if host.startswith("/"):
        return pwd.getpwuid(Path(host).stat().st_uid).pw_name  # the embedded server's owner
    return "nobody"


@contextmanager
def pgbouncer(database_url: str) -> Iterator[str]:
    """Start PgBouncer for `database_url`; yield the URL that goes through it."""
    executable = shutil.which("pgbouncer")
    if executable is None:
        raise RuntimeError("pgbouncer is not installed (make install-pgbouncer)")
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    port = query.get("port", [str(parts.port or 5432)])[0]
    user = parts.username or "postgres"
    directory = Path(tempfile.mkdtemp(prefix="recording-pgbouncer-"))
    directory.chmod(0o777)
    listen_port = _free_port()
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        INI.format(
            host=host,
            port=port,
            dbname=parts.path.lstrip("/"),
            user=user,
            listen_port=listen_port,
            directory=directory,
        )
    )
    (directory / "users.txt").write_text(f'"{user}" ""\n')
    run_as = _run_as(host)
    command = [executable, str(ini)] + (["-u", run_as] if run_as else [])
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", listen_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"postgresql://{user}@127.0.0.1:{listen_port}/recording"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
