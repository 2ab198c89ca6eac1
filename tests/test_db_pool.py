"""Pooled PostgreSQL connections that sat idle are pinged before use, so a database restart
(or a firewall dropping idle connections) costs no request; busy connections are not
pinged, which saves a round trip per request."""
import json

import pytest
from sqlalchemy import create_engine, select, text

from app.cli.demo import register_sandbox_identities, seed_demo
from app.core import crypto
from app.extensions import db, redis_store
from app.models import WechatAccount
from tests.conftest import PG_ADMIN_URL
from tests.factories import API, bearer


def _app(make_app, idle_seconds):
    return make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 2, "max_overflow": 0},
                    DB_PING_AFTER_IDLE_SECONDS=idle_seconds)


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


def test_idle_connection_killed_by_the_server_is_replaced_before_use(pg_backend, make_app):
    app = _app(make_app, idle_seconds=0)  # every checkout counts as idle
    assert _ready(app) == 200
    _kill_connections(pg_backend)
    assert _ready(app) == 200  # the ping found the dead connection; a new one served


def test_recently_used_connection_is_not_pinged(pg_backend, make_app):
    """The other side of the trade: within the idle window a dead connection fails its
    first request, and the pool is then rebuilt."""
    app = _app(make_app, idle_seconds=3600)
    assert _ready(app) == 200
    _kill_connections(pg_backend)
    assert _ready(app) == 503
    assert _ready(app) == 200


def test_cancel_with_a_one_connection_pool_and_a_session_read_from_the_database(pg_backend,
                                                                                  make_app):
    """A session from before the binding was cached makes the request read the account
    through the ORM first; that read must give the connection back before the cancel
    takes one from the pool (else, with one connection per process, it waits for itself).
    """
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0,
                                              "pool_timeout": 3})
    with app.app_context():
        summary = seed_demo(candidates=3)
        register_sandbox_identities()
        cand = next(c for c in summary["candidates"] if not c["position_review"])
        account = db.session.scalars(select(WechatAccount).where(
            WechatAccount.openid == cand["openid"])).one()
        token = crypto.new_token(32)
        redis_store.client.set(redis_store.key("mp-session", crypto.token_hash(token)),
                               json.dumps({"account_id": account.id}), ex=600)
        db.session.remove()
    r = app.test_client().post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel",
                               headers=bearer(token), json={"reason_code": "time_conflict"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "cancelled"
