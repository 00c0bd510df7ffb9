"""A throwaway PostgreSQL server for tests, run from Debian's ``postgresql`` package.

``PostgresServer`` creates a cluster in a temporary directory (trust auth, fsync off), starts it
on a free port of 127.0.0.1 and creates a database; leaving the ``with`` block stops the server
and deletes the directory. PostgreSQL refuses to run as root, so as root the server commands run
as the ``postgres`` system user (which the Debian package creates) via ``runuser``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from tests.support._ports import free_port

SUPERUSER = "postgres"
SYSTEM_USER = "postgres"
_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_PORT_ATTEMPTS = 3


class PostgresNotInstalledError(RuntimeError):
    """The PostgreSQL server binaries (or the ``postgres`` system user) are missing."""


def find_bin_dir() -> Path:
    """The ``bin`` directory of the highest PostgreSQL version installed under /usr/lib/postgresql."""

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(part) for part in name.split(".")) if re.fullmatch(r"[\d.]+", name) else ()

    for candidate in sorted(glob.glob(_BIN_GLOB), key=version, reverse=True):
        bin_dir = Path(candidate)
        if all((bin_dir / tool).is_file() for tool in ("initdb", "pg_ctl", "createdb")):
            return bin_dir
    raise PostgresNotInstalledError(
        f"PostgreSQL server binaries not found under {_BIN_GLOB} (initdb, pg_ctl). "
        "Run `make install` to install the Debian packages the tests need."
    )


def _temp_base() -> str:
    """A temp dir the ``postgres`` user can reach, short enough for a Unix socket path."""
    base = tempfile.gettempdir()
    if os.geteuid() != 0:
        return base
    path = Path(base)
    reachable = all(os.stat(p).st_mode & 0o001 for p in (path, *path.parents))
    return base if reachable and len(base) < 40 else "/tmp"


class PostgresServer:
    """A PostgreSQL server in a temporary directory, for the length of a ``with`` block."""

    def __init__(self, database: str = "browserfleet", host: str = "127.0.0.1", timeout: int = 60) -> None:
        if not _DB_NAME.match(database):
            raise ValueError(f"invalid database name: {database!r}")
        self.database = database
        self.host = host
        self.timeout = timeout
        self.port: int | None = None
        self._bin: Path | None = None
        self._tmp: Path | None = None
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C"}

    # -- public API ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """SQLAlchemy async URL of the database created at start."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        if self.port is None:
            raise RuntimeError("PostgresServer is not running")
        return f"postgresql+asyncpg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its SQLAlchemy async URL."""
        if not _DB_NAME.match(name):
            raise ValueError(f"invalid database name: {name!r}")
        url = self.url_for(name)
        self._run(["createdb", "-h", self.host, "-p", str(self.port), "-U", SUPERUSER, "--", name])
        return url

    def start(self) -> None:
        self._bin = find_bin_dir()
        server_user = self._server_user()
        self._tmp = Path(tempfile.mkdtemp(prefix="browserfleet-pg-", dir=_temp_base()))
        try:
            if server_user is not None:
                os.chown(self._tmp, server_user.pw_uid, server_user.pw_gid)
            initdb = ["initdb", "-D", str(self._data), "-A", "trust", "-U", SUPERUSER, "--no-sync"]
            self._run([*initdb, "-E", "UTF8", "--locale=C"], as_server=True)
            self._start_on_free_port()
            self.create_database(self.database)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (immediate mode: it is thrown away) and delete its directory."""
        if self._tmp is None:
            return
        if (self._data / "postmaster.pid").exists():
            try:
                self._run(["pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop"], as_server=True)
            except RuntimeError:
                self._kill_postmaster()
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp = None
        self.port = None

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------------

    @property
    def _data(self) -> Path:
        assert self._tmp is not None
        return self._tmp / "data"

    @property
    def _log(self) -> Path:
        assert self._tmp is not None
        return self._tmp / "postgres.log"

    @staticmethod
    def _server_user() -> pwd.struct_passwd | None:
        """The user to run the server as when we are root (PostgreSQL refuses root); else None."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise PostgresNotInstalledError(
                f"Running as root, but there is no {SYSTEM_USER!r} system user to run PostgreSQL as. "
                "Run `make install` to install the Debian packages the tests need."
            ) from None

    def _start_on_free_port(self) -> None:
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = free_port(self.host)
            options = f"-k {shlex.quote(str(self._tmp))} -h {self.host} -p {port} -F"
            try:
                pg_ctl = [
                    "pg_ctl",
                    "-D",
                    str(self._data),
                    "-l",
                    str(self._log),
                    "-w",
                    "-t",
                    str(self.timeout),
                ]
                self._run([*pg_ctl, "-o", options, "start"], as_server=True)
            except RuntimeError:
                log = self._log.read_text(errors="replace") if self._log.exists() else ""
                if attempt < _PORT_ATTEMPTS and "could not bind" in log:
                    continue  # another process took the port in the meantime
                raise
            self.port = port
            return

    def _run(self, args: list[str], *, as_server: bool = False) -> None:
        assert self._bin is not None and self._tmp is not None
        cmd = [str(self._bin / args[0]), *args[1:]]
        if as_server and os.geteuid() == 0:
            cmd = ["runuser", "-u", SYSTEM_USER, "--", *cmd]
        result = subprocess.run(
            cmd,
            cwd=self._tmp,
            env=self._env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=self.timeout + 30,
            check=False,
        )
        if result.returncode != 0:
            log = self._log.read_text(errors="replace")[-4000:] if self._log.exists() else ""
            raise RuntimeError(
                f"{shlex.join(cmd)} failed with exit code {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}\n--- server log ---\n{log}"
            )

    def _kill_postmaster(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self._data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
