"""Throwaway servers for fault tests: a redis-server and a PostgreSQL cluster of their own,
on spare ports, in a temporary folder, stopped (and restarted) at will.

Fault tests take these services away and bring them back; they never touch the machine's
shared PostgreSQL and Redis, which other test runs (and other sessions) are using.

Traps:
- initdb and postgres refuse to run as root: as root, the cluster runs as the `postgres`
  user (runuser), and its folder belongs to that user.
- `pg_ctl stop -m immediate` is the crash a power cut gives (no checkpoint, clients see
  their connections die); `-m fast` is an operator's restart. Both are used.
- synchronous_commit stays on: with it off, a commit answered before its WAL is written
  is lost by `-m immediate`, and the test would blame the app for the cluster's setting
  (fsync=off is harmless here: the operating system keeps what the server wrote).
- A port found free may be taken by someone else before the server binds it; start()
  then times out saying which port.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def redis_binary() -> str | None:
    return shutil.which("redis-server")


def pg_bindir() -> str | None:
    """The folder of initdb, pg_ctl and createdb (Debian keeps them together under
    /usr/lib/postgresql/N/bin; a PATH entry may be a lone symlink to one of them)."""
    found = shutil.which("initdb")
    candidates = [str(Path(os.path.realpath(found)).parent)] if found else []
    candidates += sorted(str(Path(p).parent)
                         for p in glob.glob("/usr/lib/postgresql/*/bin/initdb"))[::-1]
    for folder in candidates:
        if all(os.access(f"{folder}/{tool}", os.X_OK) for tool in ("initdb", "pg_ctl",
                                                                    "createdb")):
            return folder
    return None


def missing() -> str | None:
    """Why fault servers cannot run here (None when they can)."""
    if not redis_binary():
        return "redis-server is not installed"
    if not pg_bindir():
        return "PostgreSQL's initdb is not installed"
    return None


class RedisServer:
    """redis-server on a spare port. stop() kills it (its data is gone, as with a Redis
    that keeps nothing on disk); stop(save=True) shuts it down saving its data into
    `folder`, and the next start() loads it (a Redis with persistence, restarted)."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = Path(folder)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
             "--dir", str(self.folder), "--dbfilename", "dump.rdb"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: _port_open(self.port), 10, f"redis-server on {self.port}")

    def stop(self, save: bool = False) -> None:
        if self.proc is not None:
            if save:
                import redis

                try:
                    redis.Redis(port=self.port).shutdown(save=True)
                except redis.exceptions.ConnectionError:
                    pass  # the shutdown closes the connection it came on
            else:
                self.proc.kill()
                (self.folder / "dump.rdb").unlink(missing_ok=True)
            self.proc.wait(10)
            self.proc = None
        _wait(lambda: not _port_open(self.port), 10, f"redis-server on {self.port} to stop")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class PgCluster:
    """A PostgreSQL cluster of its own (initdb in a temporary folder), trust auth."""

    def __init__(self):
        self.bindir = pg_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="aiic-faultpg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [f"{self.bindir}/{tool}", *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off "
                   "-c max_connections=60")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
                  check=False)

    def createdb(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
