"""Test fixtures.

Every test that uses `app` runs once per backend:
- `sqlite`: SQLite file + the in-process Redis-compatible store (always);
- `services`: real PostgreSQL + real Redis (when reachable; with REQUIRE_SERVICES=1 a
  missing service fails the run instead of skipping it).
Each backend's schema is built once per run with the Alembic migrations (`flask db
upgrade`). The app is served by a live HTTP server on a free port, because wechatpy
reaches the WeChat sandbox over real HTTP, exactly as it reaches WeChat.

Why one app per backend and not one per test: building the app, its connection pool and
a live server for each test was most of the suite's time. So the app and its server live
as long as their backend (session scope), and each test gets a fast reset instead (see
`AppState`):
- the data: a DELETE per table, then the sequences restarted (PostgreSQL) or
  `sqlite_sequence` emptied (SQLite), and the Redis namespace cleared; ids start at 1
  again, as they did with a fresh database (see `reset_data`);
- `app.config` and `app.extensions` back to what they were when the app was built (tests
  set rate limits, timeouts, URLs, ...), which also drops the cached wechatpy clients
  (`app.extensions["wechat_clients"]`: their requests sessions and the access token they
  keep in memory for 15 s, which the cleared sandbox no longer knows);
- the few process-wide states the app code keeps (listed in `_reset_process_state`).
Before the reset, requests still running on the live server (a sandbox answer delayed by a
latency fault outlives the client that gave up on it) are waited for, so they cannot write
into the next test. The demo data set is seeded for real once per backend, then its rows
are copied in again (`ServedApp.demo`).

Backends and served apps are built on first use and kept until the run ends (`_built`),
not torn down when the run moves on to the other backend's tests: under pytest-xdist
(`make test` runs the suite in worker processes) a worker gets its tests in the order the
scheduler picks, and each switch would otherwise drop, create and migrate a database
again. Each xdist worker has its own of everything: database (named after the worker),
Redis namespace, SQLite file and temporary folders, live servers on ports of its own.
Tests that must share one worker are listed in `XDIST_GROUPS`.

Tests that need an app of their own (another pool size, another config) use `make_app`.
Rows are written by the factories in tests/factories.py; the login helpers are there too.
"""
from __future__ import annotations

import copy
import itertools
import os
import socket
import threading
import time
import uuid
import warnings
from functools import partial
from urllib.parse import urlparse

import pytest
import requests
from sqlalchemy import create_engine, exists, literal, or_, select, text
from werkzeug.serving import make_server
from werkzeug.wsgi import ClosingIterator

from app import create_app
from config import TestingConfig
from tests import factories

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
BACKENDS = ("sqlite", "services")
# How long a reset waits for the live server's requests still in flight.
QUIESCE_SECONDS = 15.0
# How long the demo rows written once are inserted again instead of seeding anew.
DEMO_MAX_AGE = 30 * 60
# The pytest-xdist worker ("gw0", "gw1"...; "main" without xdist): in the names of the
# databases and Redis namespaces, so whose they are shows.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# Tests that must run in one worker process, in order (`make test`: --dist loadgroup, see
# pytest_xdist_make_scheduler): path prefix -> group.
XDIST_GROUPS = {
    # the second test checks that the first one's leftovers are gone on the same app
    "tests/test_isolation.py": "isolation",
    # one PostgreSQL cluster of their own (initdb) for all of them, not one per worker
    "tests/faults/": "faults",
}


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+psycopg", ""))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1",
                                       parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def services_status() -> tuple[bool, str]:
    missing = []
    if not _reachable(PG_ADMIN_URL, 5432):
        missing.append(f"PostgreSQL ({PG_ADMIN_URL})")
    if not _reachable(REDIS_URL, 6379):
        missing.append(f"Redis ({REDIS_URL})")
    if missing:
        return False, "not reachable: " + ", ".join(missing)
    return True, "PostgreSQL + Redis reachable"


def xdist_group(nodeid: str) -> str | None:
    """The XDIST_GROUPS group of a test, by its node id (None: any worker)."""
    path = nodeid.split("::", 1)[0]
    return next((group for prefix, group in XDIST_GROUPS.items() if path.startswith(prefix)),
                None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """--dist loadgroup with the groups of XDIST_GROUPS. Not xdist_group marks: xdist 3.8
    appends the group to `item._nodeid`, which pytest 9 no longer reads, so marked tests
    went to any worker."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class XdistGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid) or super()._split_scope(nodeid)

    return XdistGroupScheduling(config, log)


def pytest_report_header(config):
    ok, why = services_status()
    used = "sqlite+embedded-redis" + (", postgresql+redis" if ok else "")
    lines = [f"backends: {used}"]
    if not ok:
        lines.append(("REQUIRE_SERVICES=1: the services backend will FAIL: " if REQUIRE_SERVICES
                      else "services backend skipped: ") + why)
    return lines


class Backend:
    """Connection settings for one backend, created once per test session."""

    def __init__(self, name: str, tmp_path_factory):
        self.name = name
        self.redis_prefix = f"aiictest:{WORKER}:{uuid.uuid4().hex[:10]}:"
        if name == "sqlite":
            path = tmp_path_factory.mktemp("sqlite") / "test.db"
            self.database_url = f"sqlite:///{path}"
            self.redis_url = None
            self.pg_database = None
        else:
            self.pg_database = f"aiic_test_{WORKER}_{uuid.uuid4().hex[:10]}"
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.pg_database}"'))
            admin.dispose()
            self.database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.pg_database
            self.redis_url = REDIS_URL
        self.migrate()

    def config(self, **overrides) -> TestingConfig:
        """A TestingConfig for this backend; `overrides` are set on it before the app
        is built (so engine options, pool sizes and the like take effect)."""
        cfg = TestingConfig()
        cfg.SQLALCHEMY_DATABASE_URI = self.database_url
        cfg.REDIS_URL = self.redis_url
        cfg.REDIS_KEY_PREFIX = self.redis_prefix
        if self.name == "sqlite":
            cfg.SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"timeout": 30}}
        else:
            cfg.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": 10,
                                             "max_overflow": 20}
        for key, value in overrides.items():
            setattr(cfg, key, value)
        return cfg

    def migrate(self) -> None:
        from flask_migrate import upgrade

        app = create_app(self.config())
        with app.app_context():
            upgrade()
            from app.extensions import db

            db.engine.dispose()

    def drop(self) -> None:
        if self.pg_database:
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.pg_database}" '
                                  "WITH (FORCE)"))
            admin.dispose()


class Built:
    """The backends and served apps of this run (of this xdist worker), built on first use."""

    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory
        self.backends: dict[str, Backend] = {}
        self.served: dict[str, ServedApp] = {}

    def backend(self, name: str) -> Backend:
        if name not in self.backends:
            self.backends[name] = Backend(name, self.tmp_path_factory)
        return self.backends[name]

    def served_app(self, backend: Backend) -> ServedApp:
        if backend.name not in self.served:
            self.served[backend.name] = ServedApp(backend)
        return self.served[backend.name]

    def close(self) -> None:
        try:
            for served in self.served.values():
                served.close()
        finally:
            for b in self.backends.values():
                b.drop()


@pytest.fixture(scope="session")
def _built(tmp_path_factory):
    """What `backend` and `served_app` hand out, kept until the run ends (see the top)."""
    built = Built(tmp_path_factory)
    yield built
    built.close()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request, _built):
    if request.param == "services":
        ok, why = services_status()
        if not ok:
            if REQUIRE_SERVICES:
                pytest.fail(f"REQUIRE_SERVICES=1 but {why}", pytrace=False)
            pytest.skip(f"services backend: {why} (set REQUIRE_SERVICES=1 to fail instead)")
    return _built.backend(request.param)


# --- resetting the data ---------------------------------------------------------------------

def reset_data(app) -> None:
    """Empty every table (ids start at 1 again) and the app's Redis namespace.

    PostgreSQL: a DELETE per table and a restart of the sequences that were used, in one
    transaction. Not TRUNCATE: it gives every table and index new files, which took 50 to
    340 ms per test here against 7 to 20 ms for the DELETEs of a test's few rows.
    The counters a test made and not yet written (app.core.counters keeps them up to a
    second, then a timer thread adds them) are written first, so they are cleared too
    instead of landing in the next test's namespace, or after the last one.
    """
    from app.core import counters
    from app.extensions import db, redis_store

    counters.flush()
    with app.app_context():
        with db.engine.begin() as conn:
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                # A connection left inside a transaction would make the reset wait for
                # ever; fail it instead, naming who holds the lock. And the commit need
                # not wait for the disk: the data is a test's.
                conn.execute(text("SET LOCAL lock_timeout = '10s'; "
                                  "SET LOCAL synchronous_commit = off"))
            try:
                for table in reversed(db.metadata.sorted_tables):
                    conn.execute(table.delete())
            except Exception as exc:
                if not postgres:
                    raise
                raise RuntimeError("could not empty the tables; open transactions:\n"
                                   + _open_transactions(db.engine.url)) from exc
            if postgres:
                conn.execute(text(RESTART_USED_SEQUENCES))
            elif conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                   "AND name = 'sqlite_sequence'")).first():
                conn.execute(text("DELETE FROM sqlite_sequence"))
        redis_store.clear_namespace()
        db.session.remove()


# (pg_sequences.last_value is NULL for a sequence not used since it was created or
# restarted.)
RESTART_USED_SEQUENCES = """
DO $$
DECLARE s record;
BEGIN
  FOR s IN SELECT schemaname, sequencename FROM pg_sequences WHERE last_value IS NOT NULL
  LOOP
    EXECUTE format('ALTER SEQUENCE %I.%I RESTART', s.schemaname, s.sequencename);
  END LOOP;
END $$
"""


def _open_transactions(url) -> str:
    """The other sessions of this database inside a transaction (for the reset's error)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT pid, state, now() - xact_start AS age, left(query, 200) "
                "FROM pg_stat_activity WHERE datname = current_database() "
                "AND xact_start IS NOT NULL AND pid <> pg_backend_pid()")).all()
    finally:
        engine.dispose()
    return "\n".join(str(tuple(r)) for r in rows) or "(none)"


def _reset_process_state() -> None:
    """Process-wide state of the app code that a test can leave behind.

    - `outbox._debouncer`: when each wake-up channel last published, and whether a
      trailing wake-up is pending; a fresh one so a test's first commit publishes at once.
    - `rules.calendar._warned_years`: years already warned about (a log line once per
      year and process); emptied so a test looking for the warning sees it.
    Left alone on purpose: the caches of built and compiled statements
    (`audit.record.insert_row`, `outbox.fanout_rows`, `webhooks.events.delivery_rows`,
    `cancellation.write._plan` and `_PREPARED`) and `openapi._document`: they are pure
    functions of the code and the dialect, hold no data, config or connection, and are
    the same for every test; building them again would only slow the suite down.
    (Per-app caches, like the wechatpy clients, go with `AppState.restore`.)
    """
    from app.services.notifications import outbox
    from app.services.rules import calendar

    outbox._debouncer = outbox._WakeDebouncer()
    calendar._warned_years.clear()


def _copy_config(config) -> dict:
    """A snapshot of app.config: containers copied deeply, everything else (the config
    object, the embedded Redis server, functions) kept by reference."""
    return {key: copy.deepcopy(value) if isinstance(value, dict | list | set) else value
            for key, value in config.items()}


class AppState:
    """What a test may change on a long-lived app, and how to put it back."""

    def __init__(self, app):
        from app.extensions import redis_store

        self.app = app
        self.config = _copy_config(app.config)
        self.extensions = dict(app.extensions)
        self.redis_bound = redis_store._last

    def restore(self) -> None:
        from app.extensions import redis_store

        config = self.app.config
        # Never leave a key missing, even for a moment: the live server may be reading.
        for key in [k for k in config if k not in self.config]:
            del config[key]
        config.update(_copy_config(self.config))
        extensions = self.app.extensions
        for key in [k for k in extensions if k not in self.extensions]:
            del extensions[key]  # e.g. wechat_clients: rebuilt on first use
        extensions.update(self.extensions)
        # Code outside an app context (threads) uses the store of the app built last;
        # another app (make_app, the SMS sandbox's) may have been built since.
        redis_store._last = self.redis_bound


# --- the live server --------------------------------------------------------------------

class InFlight:
    """WSGI middleware keeping the requests being answered, so a reset can wait until
    the server is idle.

    A request ends when werkzeug closes its response, or else when the thread that served
    it ends: werkzeug skips the close when the client resets the connection (a browser
    leaving a page does), and serves each request in a thread of its own.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.running: dict[int, tuple[str, float, threading.Thread]] = {}
        self.changed = threading.Condition()
        self._ids = itertools.count()

    def __call__(self, environ, start_response):
        key = next(self._ids)
        what = f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO')}"
        with self.changed:
            self.running[key] = (what, time.monotonic(), threading.current_thread())
        try:
            response = self.wsgi_app(environ, start_response)
        except BaseException:
            self._done(key)
            raise
        return ClosingIterator(response, partial(self._done, key))

    def _done(self, key: int) -> None:
        with self.changed:
            self.running.pop(key, None)
            self.changed.notify_all()

    def _idle(self) -> bool:
        for key, (_, _, thread) in list(self.running.items()):
            if not thread.is_alive():
                del self.running[key]
        return not self.running

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not self._idle():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 0.05))  # threads end without notifying
            return True

    def describe(self) -> str:
        now = time.monotonic()
        with self.changed:
            return ", ".join(f"{what} ({now - since:.1f} s)"
                             for what, since, _ in self.running.values())


class LiveServer:
    def __init__(self, app):
        self.in_flight = InFlight(app)
        self.server = make_server("127.0.0.1", 0, self.in_flight, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self):
        self.thread.start()

    def quiesce(self) -> None:
        if not self.in_flight.wait_idle(QUIESCE_SECONDS):
            warnings.warn(f"live-server requests still running after {QUIESCE_SECONDS:.0f} s"
                          f" (resetting anyway): {self.in_flight.describe()}", stacklevel=2)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class ServedApp:
    """The session's app on one backend, its live server and its pristine state."""

    def __init__(self, backend: Backend):
        self.app = create_app(backend.config())
        self.server = LiveServer(self.app)
        url = self.server.url
        self.app.config.update(PUBLIC_BASE_URL=url, WECHAT_API_BASE=url + "/_sandbox/wechat",
                               LIVE_SERVER_URL=url)
        self.state = AppState(self.app)
        self._demo: tuple[dict, dict[str, list[dict]], float] | None = None
        self.server.start()

    def demo(self) -> dict:
        """The demo data set: seed_demo(candidates=12) the first time, and from then on
        the rows it wrote, inserted again (a tenth of the time; the reset restarts the
        ids, so they are the same ids). Seeded for real whenever tables are not empty
        (a fixture wrote rows before), since copied rows would then collide, and again
        every DEMO_MAX_AGE seconds, since its times are relative to when it was seeded
        (sessions start tomorrow)."""
        from app.cli.demo import register_sandbox_identities, seed_demo
        from app.extensions import db

        with self.app.app_context():
            tables = db.metadata.sorted_tables
            empty = db.session.execute(select(literal(1)).where(
                or_(*(exists().select_from(t) for t in tables)))).first() is None
            db.session.remove()
            if self._demo is not None and time.monotonic() - self._demo[2] > DEMO_MAX_AGE:
                self._demo = None
            if empty and self._demo is not None:
                summary, rows, _ = self._demo
                with db.engine.begin() as conn:
                    for table in tables:
                        if rows[table.name]:
                            conn.execute(table.insert(), rows[table.name])
                    if conn.dialect.name == "postgresql":
                        for table in tables:
                            if rows[table.name] and "id" in table.c:
                                conn.execute(text(
                                    "SELECT setval(pg_get_serial_sequence(:t, 'id'), :n)"),
                                    {"t": table.name,
                                     "n": max(r["id"] for r in rows[table.name])})
            else:
                summary = seed_demo(candidates=12)
                if empty and self._demo is None:
                    with db.engine.connect() as conn:
                        self._demo = (copy.deepcopy(summary), {
                            t.name: [dict(r) for r in conn.execute(select(t)).mappings()]
                            for t in tables}, time.monotonic())
            register_sandbox_identities()
            db.session.remove()
        return copy.deepcopy(summary)

    def reset(self) -> None:
        self.server.quiesce()
        self.state.restore()
        _reset_process_state()
        reset_data(self.app)

    def close(self) -> None:
        from app.extensions import db

        self.server.quiesce()
        self.server.stop()
        reset_data(self.app)
        with self.app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def served_app(backend, _built):
    """One app per backend, served live, for the whole run (use `app` in tests)."""
    return _built.served_app(backend)


@pytest.fixture
def app(served_app):
    """The app on this backend, served live so wechatpy can reach the sandbox over HTTP;
    empty tables, empty Redis namespace and the app's own config at the start of each
    test, whatever the test before did."""
    served_app.reset()
    yield served_app.app
    served_app.server.quiesce()
    served_app.state.restore()


@pytest.fixture
def make_app(backend):
    """make_app(**config_overrides) -> a new app of its own on this backend (not served),
    for tests that need another config (a pool of one, another ping interval...).

    Its tables and Redis namespace are those of the backend's shared database: they are
    emptied when it is built and again when the test ends; its engine is disposed then.
    """
    from app.extensions import db, redis_store

    made = []
    last_bound = redis_store._last

    def make(**overrides):
        application = create_app(backend.config(**overrides))
        made.append(application)
        reset_data(application)
        return application

    yield make
    try:
        for application in made:
            reset_data(application)
            with application.app_context():
                db.engine.dispose()
    finally:
        redis_store._last = last_bound


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def live_url(app):
    return app.config["LIVE_SERVER_URL"]


@pytest.fixture
def demo(app, served_app):
    """The demo data set (`flask seed-demo`), small: positions, sessions, candidates, HR;
    returns seed_demo()'s summary (ids, openids, the HR users' password)."""
    return served_app.demo()


@pytest.fixture
def mp_login(client):
    """mp_login(openid, bound=None) -> the Authorization header of a mini-program session
    (factories.mp_login through this test's client)."""
    return partial(factories.mp_login, client)


@pytest.fixture
def sandbox(live_url):
    """The WeChat sandbox's test interface over HTTP (tests/wechat has its own)."""
    class Sandbox:
        def post(self, path, **body):
            r = requests.post(f"{live_url}/_sandbox/wechat/{path}", json=body, timeout=5)
            assert r.status_code == 200, r.text
            return r.json()

        def get(self, path, **params):
            return requests.get(f"{live_url}/_sandbox/wechat/{path}", params=params,
                                timeout=5).json()

        def fault(self, **spec):
            return self.post("faults", **spec)

        def messages(self, touser=None):
            return self.get("messages", **({"touser": touser} if touser else {}))["items"]
    return Sandbox()
