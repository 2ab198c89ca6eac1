"""Test fixtures.

Every test that uses `app` runs once per backend:
- `sqlite`: SQLite file + the in-process Redis-compatible store (always);
- `services`: real PostgreSQL + real Redis (when reachable; with REQUIRE_SERVICES=1 a
  missing service fails the run instead of skipping it).
Each backend's schema is built once per run with the Alembic migrations (`flask db
upgrade`), and every test starts from empty tables and an empty Redis namespace.
The app is also served by a live HTTP server on a free port, because wechatpy reaches the
WeChat sandbox over real HTTP, exactly as it reaches WeChat.
"""
from __future__ import annotations

import os
import socket
import threading
import uuid
from urllib.parse import urlparse

import pytest
import requests
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from app import create_app
from config import TestingConfig

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
BACKENDS = ("sqlite", "services")


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
        self.redis_prefix = f"aiictest:{uuid.uuid4().hex[:10]}:"
        if name == "sqlite":
            path = tmp_path_factory.mktemp("sqlite") / "test.db"
            self.database_url = f"sqlite:///{path}"
            self.redis_url = None
            self.pg_database = None
        else:
            self.pg_database = f"aiic_test_{uuid.uuid4().hex[:10]}"
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.pg_database}"'))
            admin.dispose()
            self.database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.pg_database
            self.redis_url = REDIS_URL
        self.migrate()

    def config(self) -> TestingConfig:
        cfg = TestingConfig()
        cfg.SQLALCHEMY_DATABASE_URI = self.database_url
        cfg.REDIS_URL = self.redis_url
        cfg.REDIS_KEY_PREFIX = self.redis_prefix
        if self.name == "sqlite":
            cfg.SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"timeout": 30}}
        else:
            cfg.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": 10,
                                             "max_overflow": 20}
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


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request, tmp_path_factory):
    if request.param == "services":
        ok, why = services_status()
        if not ok:
            if REQUIRE_SERVICES:
                pytest.fail(f"REQUIRE_SERVICES=1 but {why}", pytrace=False)
            pytest.skip(f"services backend: {why} (set REQUIRE_SERVICES=1 to fail instead)")
    b = Backend(request.param, tmp_path_factory)
    yield b
    b.drop()


class LiveServer:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _wipe(app) -> None:
    from app.extensions import db, redis_store

    with app.app_context():
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        redis_store.clear_namespace()


@pytest.fixture
def app(backend):
    """The app on this backend, served live so wechatpy can reach the sandbox over HTTP."""
    application = create_app(backend.config())
    server = LiveServer(application)
    application.config["PUBLIC_BASE_URL"] = server.url
    application.config["WECHAT_API_BASE"] = server.url + "/_sandbox/wechat"
    application.config["LIVE_SERVER_URL"] = server.url
    _wipe(application)
    server.start()
    yield application
    server.stop()
    _wipe(application)
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


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
def demo(app):
    """The demo data set (`flask seed-demo`), small: positions, sessions, candidates, HR."""
    from app.cli.demo import register_sandbox_identities, seed_demo

    with app.app_context():
        summary = seed_demo(candidates=12)
        register_sandbox_identities()
        return summary


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
