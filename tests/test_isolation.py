"""The shared app is handed to every test as if it were new (see tests/conftest.py).

The first test leaves behind everything a test can: rows, Redis keys, config changes, a
cached wechatpy client, the store of another app as the one used outside a context. The
second one, run after it on the same backend, finds none of it. Under pytest-xdist both
run in one worker (tests/conftest.py XDIST_GROUPS): the second one fails otherwise.
"""
from __future__ import annotations

from sqlalchemy import func, select

from app.core import counters
from app.extensions import db, redis_store
from app.models import HrUser, Interview
from app.wechat.client import mini_program_client
from tests import factories

# The backends the first test ran on, in this process.
_left_behind: set[str] = set()


def test_a_test_leaves_everything_behind(app, make_app, sandbox, backend):
    _left_behind.add(backend.name)
    factories.hr_user(app)
    factories.interview(app)
    app.config["RATE_LIMITS"] = {"login": {"ip": (1, 60)}}
    app.config["WECHAT_API_BASE"] = "http://127.0.0.1:9/nowhere"
    app.config["SOMETHING_NEW"] = True
    app.config["SQLALCHEMY_ENGINE_OPTIONS"]["changed_in_place"] = 1
    with app.app_context():
        redis_store.client.set(redis_store.key("left", "behind"), b"1")
        counters.incr(counters.CALLBACKS, "mp", "accepted")  # written up to a second later
        mini_program_client()
    assert "wechat_clients" in app.extensions
    sandbox.post("followers", openid="left-behind")
    make_app()  # another app: now the store used outside an app context


def test_the_next_test_finds_none_of_it(app, live_url, backend):
    assert backend.name in _left_behind, \
        "test_a_test_leaves_everything_behind did not run before it in this process"
    counters.flush()  # whatever is still to be written lands now
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HrUser)) == 0
        assert db.session.scalar(select(func.count()).select_from(Interview)) == 0
        assert list(redis_store.client.scan_iter(redis_store.prefix + "*")) == []
        assert redis_store._last is app.extensions["redis_store"]
    assert app.config["RATE_LIMITS"] == {}
    assert app.config["WECHAT_API_BASE"] == live_url + "/_sandbox/wechat"
    assert "SOMETHING_NEW" not in app.config
    assert "changed_in_place" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert "wechat_clients" not in app.extensions
    # ids start at 1 again, as in a new database
    assert factories.hr_user(app) == 1
