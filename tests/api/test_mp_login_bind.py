"""POST /auth/login and /auth/bind through HTTP against the WeChat sandbox."""

import pytest
from sqlalchemy import select

from app.core.timeutil import utcnow
from app.extensions import db, redis_store
from app.models import Candidate, InviteToken, WechatAccount, WechatApp
from tests import factories
from tests.factories import API


def test_login_returns_our_token_and_never_the_session_key(app, client, demo):
    r = client.post(f"{API}/auth/login", json={"code": "sandbox:sandbox-candidate-001"})
    body = r.get_json()
    assert r.status_code == 200
    assert set(body) == {"token", "expires_in", "bound", "candidate"}
    assert body["bound"] is True and body["candidate"]["name"] == demo["candidates"][0]["name"]
    assert "session_key" not in r.get_data(as_text=True)
    with app.app_context():
        acc = db.session.scalars(select(WechatAccount).where(
            WechatAccount.openid == "sandbox-candidate-001")).one()
        assert acc.session_key_encrypted and not acc.session_key_encrypted.startswith("{")
        # the token is stored hashed, with a TTL
        pattern = redis_store.key("mp-session", "*")
        keys = [k.decode() for k in redis_store.client.scan_iter(pattern)]
        assert len(keys) == 1 and body["token"] not in keys[0]
        assert 0 < redis_store.client.ttl(keys[0]) <= app.config["SESSION_TOKEN_TTL"]


def test_new_wechat_user_is_not_bound(client):
    r = client.post(f"{API}/auth/login", json={"code": "sandbox:stranger-001"})
    assert r.status_code == 200 and r.get_json()["bound"] is False
    auth = {"Authorization": f"Bearer {r.get_json()['token']}"}
    r = client.get(f"{API}/interviews", headers=auth)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "candidate_not_bound"


def test_logout_revokes_the_token(app, client, mp_login):
    factories.mp_candidate(app, "sandbox-candidate-001")
    auth = mp_login("sandbox-candidate-001")
    assert client.get(f"{API}/interviews", headers=auth).status_code == 200
    assert client.post(f"{API}/auth/logout", headers=auth).status_code == 204
    assert client.get(f"{API}/interviews", headers=auth).status_code == 401


@pytest.mark.parametrize("errcode,status,code", [
    (40029, 401, "login_code_invalid"),
    (40163, 401, "login_code_invalid"),
    (45011, 429, "login_rate_limited"),
    (40226, 403, "login_blocked"),
    (-1, 503, "service_unavailable"),
])
def test_login_maps_wechat_errors(client, sandbox, errcode, status, code):
    sandbox.fault(api="jscode2session", errcode=errcode)
    r = client.post(f"{API}/auth/login", json={"code": "sandbox:someone"})
    assert r.status_code == status
    assert r.get_json()["error"]["code"] == code
    assert r.get_json()["error"]["message"]  # Chinese text for people


def test_login_with_a_used_single_use_code(client):
    code = "sandbox:someone:nonce-1"
    assert client.post(f"{API}/auth/login", json={"code": code}).status_code == 200
    r = client.post(f"{API}/auth/login", json={"code": code})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "login_code_invalid"


def test_login_when_wechat_is_unreachable(app, client):
    app.config["WECHAT_API_BASE"] = "http://127.0.0.1:9/unreachable"
    r = client.post(f"{API}/auth/login", json={"code": "sandbox:someone"})
    assert r.status_code == 503
    assert r.get_json()["error"]["message"] == "微信登录服务暂时不可用，请稍后再试"


def test_login_timeout_is_503(app, client, sandbox):
    app.config["WECHAT_HTTP_TIMEOUT"] = 0.3
    sandbox.fault(api="jscode2session", latency_ms=1000, times=1)
    assert client.post(f"{API}/auth/login", json={"code": "sandbox:x"}).status_code == 503


@pytest.mark.parametrize("body,field", [({}, "code"), ({"code": 5}, "code"),
                                        ({"code": "x" * 200}, "code")])
def test_login_validates_input(client, body, field):
    r = client.post(f"{API}/auth/login", json=body)
    assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == field


def _invite(app, candidate_id, *, hours=72, used=False):
    from app.services.candidates.binding import create_invite

    with app.app_context():
        token = create_invite(candidate_id, ttl_hours=hours)
        if used:
            db.session.flush()
            inv = db.session.scalars(select(InviteToken)).all()[-1]
            inv.used_at = utcnow()
        db.session.commit()
        return token


def _stranger(client, openid="stranger-xyz"):
    """A WeChat user bound to no candidate, logged in."""
    return factories.mp_login(client, openid, bound=False)


def _new_candidate(app, phone="13900001111"):
    return factories.candidate(app, "钱多多", phone=phone)


def test_bind_by_invite_then_same_token_again_and_used_by_someone_else(app, client):
    cid = _new_candidate(app)
    token = _invite(app, cid)
    auth = _stranger(client)
    r = client.post(f"{API}/auth/bind", headers=auth, json={"invite_token": token})
    assert r.status_code == 200 and r.get_json()["candidate"]["name"] == "钱多多"
    assert client.get(f"{API}/interviews", headers=auth).status_code == 200
    # the same user tapping the link again is fine
    assert client.post(f"{API}/auth/bind", headers=auth,
                       json={"invite_token": token}).status_code == 200
    other = _stranger(client, "stranger-other")
    r = client.post(f"{API}/auth/bind", headers=other, json={"invite_token": token})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "invite_used"


@pytest.mark.parametrize("kind,status,code", [("expired", 410, "invite_expired"),
                                              ("used", 409, "invite_used"),
                                              ("unknown", 422, "invite_invalid")])
def test_bind_refuses_bad_invites_distinctly(app, client, kind, status, code):
    cid = _new_candidate(app)
    token = {"expired": lambda: _invite(app, cid, hours=-1),
             "used": lambda: _invite(app, cid, used=True),
             "unknown": lambda: "no-such-token"}[kind]()
    r = client.post(f"{API}/auth/bind", headers=_stranger(client), json={"invite_token": token})
    assert r.status_code == status and r.get_json()["error"]["code"] == code


def test_candidate_already_bound_elsewhere_is_rebound_only_by_hr(app, client, demo):
    token = _invite(app, demo["candidates"][0]["id"])
    r = client.post(f"{API}/auth/bind", headers=_stranger(client), json={"invite_token": token})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "candidate_bound_to_other"


def test_bound_account_cannot_bind_another_candidate(app, client, mp_login):
    factories.mp_candidate(app, "sandbox-candidate-001")
    token = _invite(app, _new_candidate(app))
    r = client.post(f"{API}/auth/bind", headers=mp_login("sandbox-candidate-001"),
                    json={"invite_token": token})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "account_bound_to_other"


def test_bind_by_phone_matches_the_encrypted_phone(app, client, sandbox):
    cid = _new_candidate(app, phone="13900002222")
    with app.app_context():
        raw = db.session.get(Candidate, cid).phone_encrypted
        assert "13900002222" not in raw  # encrypted at rest
    code = sandbox.post("phone-codes", phone="13900002222")["code"]
    auth = _stranger(client)
    r = client.post(f"{API}/auth/bind", headers=auth, json={"phone_code": code})
    assert r.status_code == 200, r.get_json()
    with app.app_context():
        acc = db.session.scalars(select(WechatAccount).where(
            WechatAccount.app == WechatApp.MINI_PROGRAM,
            WechatAccount.openid == "stranger-xyz")).one()
        assert acc.candidate_id == cid
    # single-use code
    r = client.post(f"{API}/auth/bind", headers=_stranger(client, "s2"), json={"phone_code": code})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "phone_code_invalid"


def test_bind_by_unknown_phone(client, sandbox):
    code = sandbox.post("phone-codes", phone="13700000000")["code"]
    r = client.post(f"{API}/auth/bind", headers=_stranger(client), json={"phone_code": code})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "phone_not_matched"


def test_bind_needs_exactly_one_method(client):
    r = client.post(f"{API}/auth/bind", headers=_stranger(client),
                    json={"invite_token": "a", "phone_code": "b"})
    assert r.status_code == 422


def test_rate_limit_on_login_per_ip_with_retry_after(app, client):
    app.config["RATE_LIMITS"] = {"login": {"ip": (3, 60)}}
    codes = [client.post(f"{API}/auth/login", json={"code": f"sandbox:u{i}"}).status_code
             for i in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.post(f"{API}/auth/login", json={"code": "sandbox:u9"})
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.get_json()["error"]["code"] == "rate_limited"


def test_rate_limit_on_cancel_per_user(app, client, mp_login):
    factories.mp_candidate(app, "sandbox-candidate-001")
    app.config["RATE_LIMITS"] = {"cancel": {"user": (2, 60)}}
    auth = mp_login("sandbox-candidate-001")
    codes = [client.post(f"{API}/interviews/nope/cancel", headers=auth,
                         json={"reason_code": "time_conflict"}).status_code for _ in range(3)]
    assert codes == [404, 404, 429]


def test_rate_limit_on_bind_per_user(app, client):
    app.config["RATE_LIMITS"] = {"bind": {"user": (1, 60)}}
    auth = _stranger(client)
    codes = [client.post(f"{API}/auth/bind", headers=auth,
                         json={"invite_token": "nope"}).status_code for _ in range(2)]
    assert codes == [422, 429]
