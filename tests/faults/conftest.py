"""Fault tests: the app on a Redis and a PostgreSQL of its own, which the tests stop and
start again (tests/faults/servers.py). Never the machine's shared services.

Without redis-server or initdb these tests skip, saying so; with REQUIRE_SERVICES=1 they
fail instead (CI has both)."""
from __future__ import annotations

import os
import uuid

import pytest

from tests.faults import servers

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _require() -> None:
    why = servers.missing()
    if why:
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but {why}", pytrace=False)
        pytest.skip(f"fault tests: {why} (set REQUIRE_SERVICES=1 to fail instead)")


@pytest.fixture(scope="session")
def fault_pg():
    """A PostgreSQL cluster of the fault tests' own, for the whole run."""
    _require()
    cluster = servers.PgCluster()
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def fault_redis(tmp_path):
    """A redis-server of this test's own (persisting to tmp_path when restarted with
    save=True)."""
    _require()
    server = servers.RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


class FaultApp:
    """The app built on the fault servers and served live (wechatpy reaches the sandbox
    over HTTP as it reaches WeChat)."""

    def __init__(self, pg: servers.PgCluster, redis: servers.RedisServer, **overrides):
        from flask_migrate import upgrade

        from app import create_app
        from config import TestingConfig
        from tests.conftest import LiveServer

        self.pg = pg
        self.database = f"fault_{uuid.uuid4().hex[:10]}"
        cfg = TestingConfig()
        cfg.SQLALCHEMY_DATABASE_URI = pg.createdb(self.database)
        cfg.REDIS_URL = redis.url
        cfg.REDIS_KEY_PREFIX = f"fault:{uuid.uuid4().hex[:8]}:"
        cfg.SQLALCHEMY_ENGINE_OPTIONS = {"pool_size": 10, "max_overflow": 10,
                                         "pool_timeout": 5}
        cfg.DB_PING_AFTER_IDLE_SECONDS = 0
        for key, value in overrides.items():
            setattr(cfg, key, value)
        self.app = create_app(cfg)
        with self.app.app_context():
            upgrade()
        self.server = LiveServer(self.app)
        self.url = self.server.url
        self.app.config.update(PUBLIC_BASE_URL=self.url, LIVE_SERVER_URL=self.url,
                               WECHAT_API_BASE=self.url + "/_sandbox/wechat")
        self.server.start()

    def close(self) -> None:
        from app.extensions import db

        self.server.stop()
        with self.app.app_context():
            db.engine.dispose()


@pytest.fixture
def fault_app(fault_pg, fault_redis):
    made: list[FaultApp] = []

    def make(**overrides) -> FaultApp:
        made.append(FaultApp(fault_pg, fault_redis, **overrides))
        return made[-1]

    yield make
    for fa in made:
        fa.close()
