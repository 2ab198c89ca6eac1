"""Abuse and fairness (issue 12, section 2): who pays for a request in the rate limits,
trusted proxies, per-user limits on every endpoint that creates rows, and a login refused
with 429 leaves no session."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from app.core.ratelimit import DEFAULT_LIMITS
from app.extensions import db, redis_store
from app.models import Subscription
from tests.factories import API, PASSWORD, bearer, console_login, hr_user, mp_candidate, mp_login


def _hour_windows(app, *scopes: str) -> None:
    """The default limits of these scopes, counted per hour instead of per minute: a run
    that crosses a minute boundary must not start a fresh window half way."""
    app.config["RATE_LIMITS"] = {
        scope: {kind: (limit, 3600) for kind, (limit, _) in DEFAULT_LIMITS[scope].items()}
        for scope in scopes}


def _cancel(client, auth, public_id="nope", **environ):
    return client.post(f"{API}/interviews/{public_id}/cancel",
                       headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
                       json={"reason_code": "time_conflict"}, environ_base=environ)


def test_junk_token_cancels_from_one_ip_do_not_lock_out_a_real_user_on_that_ip(app, client,
                                                                             demo):
    _hour_windows(app, "cancel")
    cand = next(c for c in demo["candidates"] if not c["position_review"])
    auth = mp_login(client, cand["openid"], bound=True)
    junk = [_cancel(client, bearer(f"{i}.junk{i}")).status_code for i in range(310)]
    assert junk[:300] == [401] * 300 and set(junk[300:]) == {429}  # the IP pays for junk
    r = _cancel(client, auth, cand["interview_ids"][0])
    assert r.status_code == 200, r.get_json()  # same IP, a live session: the user pays
    assert r.get_json()["status"] == "cancelled"


def test_a_live_session_spends_its_users_budget_not_the_ips(app, client):
    app.config["RATE_LIMITS"] = {"cancel": {"ip": (3, 3600), "user": (5, 3600)}}
    mp_candidate(app, "sandbox-candidate-001")
    mp_candidate(app, "sandbox-candidate-002")
    first = mp_login(client, "sandbox-candidate-001")
    second = mp_login(client, "sandbox-candidate-002")
    assert [_cancel(client, first).status_code for _ in range(6)] == [404] * 5 + [429]
    # Another candidate behind the same address is not touched by the first one's limit.
    assert _cancel(client, second).status_code == 404


def test_forwarded_addresses_are_ignored_unless_a_proxy_is_trusted(app, client, make_app):
    app.config["RATE_LIMITS"] = {"cancel": {"ip": (2, 3600)}}
    spoofed = [_cancel(client, bearer("1.junk"), HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code
               for i in range(3)]
    assert spoofed == [401, 401, 429]  # a header anyone can send buys no fresh budget

    behind = make_app(TRUSTED_PROXIES=1, RATE_LIMITS={"cancel": {"ip": (2, 3600)}})
    lb = behind.test_client()
    for i in range(3):  # three clients behind one balancer, each with its own budget
        codes = [_cancel(lb, bearer("1.junk"), REMOTE_ADDR="192.0.2.10",
                         HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for _ in range(2)]
        assert codes == [401, 401]
    assert _cancel(lb, bearer("1.junk"), REMOTE_ADDR="192.0.2.10",
                   HTTP_X_FORWARDED_FOR="203.0.113.0").status_code == 429


def test_a_never_invited_user_cannot_pile_up_subscription_rows(app, client):
    _hour_windows(app, "subscriptions")
    auth = mp_login(client, "stranger-never-invited")
    ours = client.get(f"{API}/subscriptions/templates", headers=auth).get_json()["template_ids"]
    codes = []
    for i in range(200):
        made_up = {f"tpl-{i}-{k}": "accept" for k in range(3)}
        codes.append(client.post(f"{API}/subscriptions", headers=auth,
                                 json={"results": made_up}).status_code)
    assert set(codes[:20]) == {422} and set(codes[20:]) == {429}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Subscription)) == 0
    redis_store.clear_namespace()  # a new minute, as far as the limits know
    auth = mp_login(client, "stranger-never-invited")
    for _ in range(5):
        assert client.post(f"{API}/subscriptions", headers=auth,
                           json={"results": {t: "accept" for t in ours}}).status_code == 200
    with app.app_context():  # one row per template of ours, however often
        assert db.session.scalar(select(func.count()).select_from(Subscription)) == len(ours)


def test_feedback_is_limited_per_minute_and_per_day(app, client):
    from app.models import Feedback

    _hour_windows(app, "feedback", "feedback_daily")
    mp_candidate(app, "sandbox-candidate-001")
    auth = mp_login(client, "sandbox-candidate-001")
    codes = [client.post(f"{API}/feedback", headers=auth,
                         json={"content": f"第{i}条意见"}).status_code for i in range(100)]
    assert codes[:5] == [201] * 5 and set(codes[5:]) == {429}
    app.config["RATE_LIMITS"] = {"feedback": {"user": (1000, 3600)},  # same windows
                                 "feedback_daily": {"user": (8, 3600)}}
    more = [client.post(f"{API}/feedback", headers=auth,
                        json={"content": f"追加{i}"}).status_code for i in range(10)]
    assert more[:3] == [201] * 3 and set(more[3:]) == {429}  # 8 a day in all
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Feedback)) == 8


def test_every_candidate_write_without_its_own_scope_is_limited_per_user(app, client):
    app.config["RATE_LIMITS"] = {"mp_write": {"user": (2, 3600)}}
    cand = mp_candidate(app, "sandbox-candidate-001")
    auth = mp_login(client, "sandbox-candidate-001")
    path = f"{API}/interviews/{cand['interview_ids'][0]}/confirm"
    codes = [client.post(path, headers=auth).status_code for _ in range(3)]
    assert codes[2] == 429 and 429 not in codes[:2]
    assert client.get(f"{API}/interviews", headers=auth).status_code == 200  # reads: not


def _mp_sessions(app, openid: str) -> int:
    from app.models import WechatAccount
    from app.services.candidates.sessions import _account_sessions_key

    with app.app_context():
        account_id = db.session.scalar(select(WechatAccount.id).where(
            WechatAccount.openid == openid))
        return redis_store.client.scard(_account_sessions_key(account_id))


def test_a_login_refused_with_429_leaves_no_session(app, client):
    app.config["RATE_LIMITS"] = {"login": {"user": (1, 3600)}}
    assert client.post(f"{API}/auth/login", json={"code": "sandbox:u1"}).status_code == 200
    assert _mp_sessions(app, "u1") == 1
    refused = client.post(f"{API}/auth/login", json={"code": "sandbox:u1"})
    assert refused.status_code == 429
    assert "token" not in refused.get_json()
    assert _mp_sessions(app, "u1") == 1  # only the first login's


def test_a_login_refused_with_429_never_issues_a_session(app, client, monkeypatch):
    """Not created and deleted again: never created (nothing for a second to read)."""
    from app.services.candidates import sessions

    issued = []
    real = sessions.issue_session
    monkeypatch.setattr(sessions, "issue_session",
                        lambda account_id: issued.append(account_id) or real(account_id))
    app.config["RATE_LIMITS"] = {"login": {"user": (1, 3600)}}
    assert client.post(f"{API}/auth/login", json={"code": "sandbox:u1"}).status_code == 200
    assert client.post(f"{API}/auth/login", json={"code": "sandbox:u1"}).status_code == 429
    assert len(issued) == 1


def test_a_locked_console_login_opens_no_session(app, client):
    from app.services.users.console_sessions import _index_key

    app.config["CONSOLE_LOGIN_MAX_FAILURES"] = 2
    user_id = hr_user(app)
    for _ in range(2):
        console_login(client, "zhaopin", "wrong-password")
    refused = console_login(client, "zhaopin", PASSWORD)  # right password, locked
    assert refused.status_code != 302 and "登录失败次数过多" in refused.get_data(as_text=True)
    with app.app_context():
        assert redis_store.client.scard(_index_key(user_id)) == 0
    page = client.get("/console/interviews")
    assert page.status_code == 302 and "/console/login" in page.headers["Location"]
