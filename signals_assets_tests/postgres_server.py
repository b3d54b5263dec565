"""A private PostgreSQL server on loopback, for tests that run Dagster's instance on Postgres (deploy/dagster.yaml).

    with postgres_server() as server:      # PostgresNotInstalled (saying what to install) without binaries
        env = {**os.environ, **server.env}  # DAGSTER_PG_HOST, _PORT, _USERNAME, _PASSWORD, _DB

A test skips with the reason when `check_installed()` raises PostgresNotInstalled.

It needs only PostgreSQL's server binaries (`initdb`, `pg_ctl`, `postgres`, `pg_isready`, `createdb`): found on
PATH, else in the newest /usr/lib/postgresql/<version>/bin (Debian's `postgresql` package, which .ci/run
installs). The server is never the machine's own cluster: `initdb` makes a fresh one in a temporary folder (trust
authentication, superuser `dagster`), it listens on 127.0.0.1 only, on a free port, with its unix socket in that
folder, and durability is switched off (fsync, synchronous_commit, full_page_writes: a test's data need not
survive a power cut). On exit it is stopped (`pg_ctl stop -m fast`, SIGKILL by its pid as a last resort) and the
folder is removed. PostgreSQL refuses to run as root: as root, the server programs run as the `postgres` user
(which the Debian package creates) through `runuser`, on a folder owned by that user.

No pytest here: a bench may import postgres_server() too.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NOT_INSTALLED = "PostgreSQL is not installed: apt-get install postgresql; .ci/run installs it"
PROGRAMS = ("initdb", "pg_ctl", "postgres", "pg_isready", "createdb")
DEBIAN_BIN_DIRS = "/usr/lib/postgresql/*/bin"
SERVER_USER = "postgres"  # who runs the server when we are root (Debian's package creates it)
# A test's server: nothing it holds must survive a crash, so skip the disk flushes; enough connections for
# a daemon, its code server and several runs with a process per step.
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


class PostgresNotInstalled(RuntimeError):
    """No PostgreSQL server binaries were found (or, as root, no user to run them as)."""


class PostgresFailed(RuntimeError):
    """initdb, the server's start or the database's creation failed; the message holds the server's log."""


@dataclass(frozen=True)
class PostgresServer:
    """A running private server: connect with host, port, user (any password: trust authentication)."""

    bin_dir: Path
    root: Path
    host: str
    port: int
    user: str
    database: str
    password: str

    @property
    def env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads its storage's connection from."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.database,
        }

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _version(bin_dir: Path) -> tuple[int, ...]:
    """(15,) for /usr/lib/postgresql/15/bin; () when the folder's name is no version."""
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name)) if bin_dir.parent.name else ()


def find_bin_dir() -> Path | None:
    """The folder holding every program of PROGRAMS: that of `initdb` on PATH (its symlink followed), else the
    newest /usr/lib/postgresql/<version>/bin; None when there is none."""

    def complete(folder: Path) -> bool:
        return all(os.access(folder / program, os.X_OK) for program in PROGRAMS)

    on_path = shutil.which("initdb")
    if on_path:
        folder = Path(on_path).resolve().parent
        if complete(folder):
            return folder
    candidates = sorted((Path(path) for path in glob.glob(DEBIAN_BIN_DIRS)), key=_version, reverse=True)
    return next((folder for folder in candidates if complete(folder)), None)


def _run_as() -> list[str]:
    """The prefix that runs a server program as a user PostgreSQL accepts: nothing, or runuser as `postgres`."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresNotInstalled(
            f"PostgreSQL refuses to run as root and there is no '{SERVER_USER}' user to run it as "
            f"({NOT_INSTALLED}, which creates that user; or run the tests as a normal user)."
        ) from None
    runuser = shutil.which("runuser")
    if not runuser:
        raise PostgresNotInstalled("PostgreSQL refuses to run as root, and runuser (util-linux) is not installed.")
    return [runuser, "-u", SERVER_USER, "--"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail(text: str, chars: int = 4000) -> str:
    return text[-chars:] if text else "(empty)"


def _check(done: subprocess.CompletedProcess, what: str, log: Path | None = None) -> None:
    if done.returncode != 0:
        server_log = log.read_text(errors="replace") if log is not None and log.exists() else ""
        raise PostgresFailed(
            f"{what} failed ({done.returncode}):\n{_tail(done.stdout + done.stderr)}"
            + (f"\nserver log:\n{_tail(server_log)}" if server_log else "")
        )


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def postgres_server(
    *, user: str = "dagster", database: str = "dagster", password: str = "dagster", start_timeout_s: float = 60
) -> Iterator[PostgresServer]:
    """A fresh PostgreSQL server on 127.0.0.1 with `database` owned by superuser `user`; stopped and removed on
    exit. PostgresNotInstalled when there are no binaries, PostgresFailed (with the log) when it does not start."""
    bin_dir, run_as = check_installed()
    previous_handler = _interrupt_on_sigterm()
    root = Path(tempfile.mkdtemp(prefix="signals-postgres-"))
    data, log = root / "data", root / "postgres.log"
    if run_as:
        entry = pwd.getpwnam(SERVER_USER)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    started = False
    try:
        initdb = [
            *run_as,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            user,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ]
        _check(subprocess.run(initdb, capture_output=True, text=True, cwd=root, timeout=120), "initdb")
        options = " ".join(
            ["-h 127.0.0.1", f"-k {root}", *(f"-c {name}={value}" for name, value in SERVER_SETTINGS.items())]
        )
        for attempt in range(3):  # a free port may be taken between picking it and listening on it
            port = _free_port()
            start = [
                *run_as,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                f"{options} -p {port}",
                "-w",
                "-t",
                str(int(start_timeout_s)),
                "start",
            ]
            done = subprocess.run(start, capture_output=True, text=True, cwd=root, timeout=start_timeout_s + 30)
            started = _postmaster_pid(data) is not None
            if done.returncode == 0:
                break
            if attempt == 2 or "could not bind" not in (log.read_text(errors="replace") if log.exists() else ""):
                _check(done, "pg_ctl start", log)
            _stop(run_as, bin_dir, data)
        server = PostgresServer(bin_dir, root, "127.0.0.1", port, user, database, password)
        _wait_ready(server, start_timeout_s)
        createdb = [str(bin_dir / "createdb"), "-h", server.host, "-p", str(port), "-U", user, database]
        _check(subprocess.run(createdb, capture_output=True, text=True, timeout=60), "createdb", log)
        yield server
    finally:
        if started or _postmaster_pid(data) is not None:
            _stop(run_as, bin_dir, data)
        shutil.rmtree(root, ignore_errors=True)
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)


def _interrupt_on_sigterm():
    """In the main thread: SIGTERM raises KeyboardInterrupt (as Ctrl-C does), so a terminated test or bench still
    stops the server and removes its folder on the way out. The previous handler, to restore; None elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    return signal.signal(signal.SIGTERM, interrupt)


def _wait_ready(server: PostgresServer, timeout_s: float) -> None:
    """Until pg_isready says the server accepts connections."""
    deadline = time.monotonic() + timeout_s
    command = [str(server.bin_dir / "pg_isready"), "-q", "-h", server.host, "-p", str(server.port), "-U", server.user]
    while subprocess.run(command, capture_output=True, timeout=30).returncode != 0:
        if time.monotonic() > deadline:
            raise PostgresFailed(f"PostgreSQL did not accept connections in {timeout_s} s:\n{_tail(server.log_text())}")
        time.sleep(0.2)


def _stop(run_as: list[str], bin_dir: Path, data: Path) -> None:
    """pg_ctl stop -m fast (disconnects every client); SIGKILL the postmaster by its pid when that fails."""
    pid = _postmaster_pid(data)
    stop = [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop"]
    try:
        if subprocess.run(stop, capture_output=True, timeout=60).returncode == 0:
            return
    except subprocess.TimeoutExpired:
        pass
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)  # its backends exit when the postmaster is gone
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def check_installed() -> tuple[Path, list[str]]:
    """The binaries' folder and the prefix to run the server with; PostgresNotInstalled saying what to install."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresNotInstalled(NOT_INSTALLED)
    return bin_dir, _run_as()
