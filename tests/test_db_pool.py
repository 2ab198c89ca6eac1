"""Pooled PostgreSQL connections that sat idle are pinged before use, so a database restart
(or a firewall dropping idle connections) costs no request; busy connections are not
pinged, which saves a round trip per request."""
import pytest
from sqlalchemy import create_engine, text

from app import create_app
from tests.conftest import PG_ADMIN_URL


def _app(backend, idle_seconds):
    cfg = backend.config()
    cfg.SQLALCHEMY_ENGINE_OPTIONS = {"pool_size": 2, "max_overflow": 0}
    cfg.DB_PING_AFTER_IDLE_SECONDS = idle_seconds
    return create_app(cfg)


def _kill_connections(backend):
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": backend.pg_database})
        assert killed.scalar() >= 1
    admin.dispose()


def _ready(app):
    return app.test_client().get("/readyz").status_code


@pytest.fixture
def pg_backend(backend):
    if backend.name != "services":
        pytest.skip("pooled connections dying under the app is a PostgreSQL matter")
    return backend


def test_idle_connection_killed_by_the_server_is_replaced_before_use(pg_backend):
    app = _app(pg_backend, idle_seconds=0)  # every checkout counts as idle
    try:
        assert _ready(app) == 200
        _kill_connections(pg_backend)
        assert _ready(app) == 200  # the ping found the dead connection; a new one served
    finally:
        with app.app_context():
            from app.extensions import db
            db.engine.dispose()


def test_recently_used_connection_is_not_pinged(pg_backend):
    """The other side of the trade: within the idle window a dead connection fails its
    first request, and the pool is then rebuilt."""
    app = _app(pg_backend, idle_seconds=3600)
    try:
        assert _ready(app) == 200
        _kill_connections(pg_backend)
        assert _ready(app) == 503
        assert _ready(app) == 200
    finally:
        with app.app_context():
            from app.extensions import db
            db.engine.dispose()
