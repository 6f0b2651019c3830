"""A throwaway PostgreSQL server for the tests of a shared gradebook (tests only).

One server per test session (per pytest-xdist worker): ``initdb`` into a short scratch folder,
reachable only through a Unix socket in that folder, no fsync, started and stopped with
``pg_ctl``. PostgreSQL refuses to run as root, so as root the server runs as ``nobody``.
Each test gets a database of its own (:func:`postgres_url`). The tests are skipped, with
the reason, where the server's programs are missing (``make postgres`` installs them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "postgres"
SERVER_USER = "nobody"  # who runs the server when the tests run as root
PORT = 5432  # names the socket file only: the socket folder is private to this server


def server_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: PATH first, then Debian's /usr/lib/postgresql/<version>/bin
    (the newest version)."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).resolve().parent] if on_path else []

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.parent.name)) or (0,)

    candidates += sorted((p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")),
                         key=lambda b: version(b / "pg_ctl"), reverse=True)
    for bin_dir in candidates:
        if (bin_dir / "initdb").is_file() and (bin_dir / "pg_ctl").is_file():
            return bin_dir
    return None


def _as_server_user(argv: list[str]) -> list[str]:
    """``argv`` run as :data:`SERVER_USER` when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("runuser"):
        return ["runuser", "-u", SERVER_USER, "--", *argv]
    return ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}", "--clear-groups", "--", *argv]


@dataclass
class PostgresServer:
    """A running server: its programs, its scratch folder (data, socket, log)."""

    bin_dir: Path
    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server (Unix socket)."""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.root}&port={PORT}"

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(dbname=database, user=SUPERUSER, host=str(self.root), port=PORT, autocommit=True)

    def create_database(self) -> str:
        """A new, empty database with a unique name; returns its name."""
        name = f"gradebook_{uuid.uuid4().hex[:16]}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        proc = subprocess.run(_as_server_user([str(self.bin_dir / argv[0]), *argv[1:]]), cwd=self.root, env=env,
                              capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n{log}")
        return proc

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                  "--no-locale", "--no-sync")
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# dlcourse tests: a throwaway server, Unix socket only, no durability\n"
                "listen_addresses = ''\n"
                f"unix_socket_directories = '{self.root}'\n"
                f"port = {PORT}\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60", "start")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", check=False)


def _scratch_root() -> Path:
    """A short private folder: the server's socket lives in it, and socket paths are limited to 107 bytes."""
    base = "/tmp" if os.path.isdir("/tmp") else None
    root = Path(tempfile.mkdtemp(prefix="dlpg-", dir=base))
    if os.geteuid() == 0:
        import pwd

        user = pwd.getpwnam(SERVER_USER)
        os.chown(root, user.pw_uid, user.pw_gid)
    return root


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for this test session (worker), stopped and removed at its end."""
    bin_dir = server_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed: `make postgres` installs them")
    if os.geteuid() == 0 and not (shutil.which("runuser") or shutil.which("setpriv")):
        pytest.skip("running as root without runuser or setpriv: cannot start PostgreSQL as an unprivileged user")
    server = PostgresServer(bin_dir, _scratch_root())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The URL of a fresh, empty database for one test (dropped afterwards)."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
