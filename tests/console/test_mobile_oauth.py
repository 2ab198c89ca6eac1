"""The mobile console signs HR in with WeChat's web OAuth (snsapi_base): the entry sends
the browser to the authorize page with a random state kept in its session, the callback
takes the state once, exchanges the code at the sandbox for the OA openid, and opens the
console's own session for the active HR user bound to that openid. Everything else
(another browser's state, a replay, an expired state, a bad code, an unbound openid, a
disabled user) opens nothing."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select, update

from app.extensions import db
from app.models import AuditEntry, HrUser, Role
from app.services.users import console_sessions
from tests.factories import bind_hr_wechat, hr_user, mobile_login

OPENID = "oa-openid-zhaopin"


@pytest.fixture
def bound_user(app, make_user):
    """A recruiting specialist bound to OPENID; returns the user's id."""
    user_id = make_user()
    bind_hr_wechat(app, "zhaopin", OPENID)
    return user_id


def authorize_redirect(client, next_url=None):
    r = client.get("/console/m/", query_string={"next": next_url} if next_url else {})
    assert r.status_code == 302
    return r.headers["Location"]


def callback_url(client, location: str, openid: str = OPENID) -> str:
    """Play WeChat's authorize page as `openid`: the callback URL it sends the browser to."""
    parts = urlsplit(location)
    r = client.get(parts.path, query_string=parts.query + "&sandbox_openid=" + openid)
    assert r.status_code == 302, r.get_data(as_text=True)
    return r.headers["Location"]


def follow(client, url: str):
    parts = urlsplit(url)
    return client.get(parts.path, query_string=parts.query)


def audit_actions(app, user_id=None) -> list[str]:
    with app.app_context():
        stmt = select(AuditEntry.action).order_by(AuditEntry.id)
        if user_id is not None:
            stmt = stmt.where(AuditEntry.actor_id == user_id)
        actions = list(db.session.scalars(stmt))
        db.session.remove()
    return actions


def open_sessions(app, user_id: int) -> int:
    with app.app_context():
        return len(console_sessions.records_of(user_id))


def signed_out(client) -> bool:
    r = client.get("/console/m/approvals")
    return r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/console/m/"


# --- the entry ------------------------------------------------------------------------------

def test_entry_sends_the_browser_to_the_authorize_url_with_a_fresh_state(app, client):
    first, second = authorize_redirect(client), authorize_redirect(client)
    parts = urlsplit(first)
    assert f"{parts.scheme}://{parts.netloc}" + parts.path == \
        app.config["LIVE_SERVER_URL"] + "/_sandbox/wechat/connect/oauth2/authorize"
    assert parts.fragment == "wechat_redirect"
    query = parse_qs(parts.query)
    assert query["appid"] == [app.config["WECHAT_OA_APPID"]]
    assert query["response_type"] == ["code"] and query["scope"] == ["snsapi_base"]
    assert query["redirect_uri"] == [app.config["PUBLIC_BASE_URL"] + "/console/m/oauth/callback"]
    assert len(query["state"][0]) >= 32
    assert parse_qs(urlsplit(second).query)["state"] != query["state"]


def test_production_points_the_authorize_page_at_open_weixin(monkeypatch):
    from config import DevelopmentConfig, ProductionConfig

    monkeypatch.delenv("WECHAT_OAUTH_BASE_URL", raising=False)
    assert ProductionConfig().WECHAT_OAUTH_BASE_URL == "https://open.weixin.qq.com"
    assert DevelopmentConfig().WECHAT_OAUTH_BASE_URL is None  # the sandbox's, see below
    monkeypatch.setenv("WECHAT_OAUTH_BASE_URL", "https://oauth.example.test")
    assert ProductionConfig().WECHAT_OAUTH_BASE_URL == "https://oauth.example.test"
    assert DevelopmentConfig().WECHAT_OAUTH_BASE_URL == "https://oauth.example.test"


def test_a_configured_authorize_host_is_used(app, client):
    app.config["WECHAT_OAUTH_BASE_URL"] = "https://open.weixin.qq.com"
    assert authorize_redirect(client).startswith(
        "https://open.weixin.qq.com/connect/oauth2/authorize?appid=")


# --- signing in -----------------------------------------------------------------------------

def test_a_bound_hr_user_signs_in_and_lands_on_the_approvals(app, client, bound_user):
    r = mobile_login(client, OPENID)
    assert r.status_code == 302 and r.headers["Location"] == "/console/m/approvals"
    page = client.get("/console/m/approvals")
    assert page.status_code == 200
    assert "待我审批" in page.get_data(as_text=True)
    assert "王招聘" in page.get_data(as_text=True)
    assert open_sessions(app, bound_user) == 1
    assert audit_actions(app, bound_user) == ["hr_user.signed_in_wechat"]
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry)).one()
        assert (entry.actor_type, entry.object_type, entry.object_id, entry.ip) == \
            ("hr", "hr_user", bound_user, "127.0.0.1")
        db.session.remove()


def test_the_page_asked_for_is_opened_after_the_sign_in(app, client, bound_user,
                                                        make_interview):
    iv = make_interview()
    r = client.get(f"/console/m/interviews/{iv.public_id}")
    assert r.status_code == 302
    entry = urlsplit(r.headers["Location"])
    assert entry.path == "/console/m/"
    r = mobile_login(client, OPENID, next_url=parse_qs(entry.query)["next"][0])
    assert r.headers["Location"] == f"/console/m/interviews/{iv.public_id}"
    assert iv.number in client.get(r.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example/x",
                                    "/console/settings/users", "/\\evil.example"])
def test_next_outside_the_mobile_console_is_dropped(client, bound_user, target):
    r = mobile_login(client, OPENID, next_url=target)
    assert r.headers["Location"] == "/console/m/approvals"


def test_a_signed_in_user_goes_straight_to_the_page(client, bound_user):
    mobile_login(client, OPENID)
    r = client.get("/console/m/", query_string={"next": "/console/m/approvals"})
    assert r.status_code == 302 and r.headers["Location"] == "/console/m/approvals"


def test_the_password_login_session_opens_the_mobile_pages_too(client, bound_user, login):
    assert login(client, "zhaopin").status_code == 302
    assert client.get("/console/m/approvals").status_code == 200


def test_logout_ends_the_mobile_session(app, client, bound_user, csrf_token):
    mobile_login(client, OPENID)
    token = csrf_token(client, "/console/m/approvals")
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert signed_out(client)
    assert open_sessions(app, bound_user) == 0


# --- the state -------------------------------------------------------------------------------

def test_the_state_is_used_once(app, client, bound_user):
    url = callback_url(client, authorize_redirect(client))
    assert follow(client, url).status_code == 302
    other = app.test_client()  # a replay in a fresh browser, and in the same one
    r = follow(other, url)
    assert r.status_code == 400
    assert 'data-error-code="oauth_state_invalid"' in r.get_data(as_text=True)
    assert signed_out(other)
    with client.session_transaction() as sess:
        sess.clear()
    assert follow(client, url).status_code == 400


def test_a_replay_with_an_old_copy_of_the_cookie_is_stopped_by_the_spent_code(
        app, client, bound_user):
    url = callback_url(client, authorize_redirect(client))
    old_cookie = client.get_cookie("session").value  # still holds the pending state
    assert follow(client, url).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", old_cookie)
    r = follow(thief, url)
    assert r.status_code == 400
    assert 'data-error-code="oauth_code_invalid"' in r.get_data(as_text=True)
    assert signed_out(thief)
    assert open_sessions(app, bound_user) == 1  # only the real sign-in's


def test_a_state_from_another_browser_opens_nothing(app, client, bound_user):
    url = callback_url(client, authorize_redirect(client))  # the victim's browser
    attacker = app.test_client()
    authorize_redirect(attacker)  # has a pending state of its own
    r = follow(attacker, url)
    assert r.status_code == 400
    assert "链接已失效" in r.get_data(as_text=True)
    assert signed_out(attacker)
    assert open_sessions(app, bound_user) == 0


def test_a_wrong_state_is_refused_and_spends_the_pending_one(client, bound_user):
    url = callback_url(client, authorize_redirect(client))
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    r = client.get(parts.path, query_string={**query, "state": "0" * 32})
    assert r.status_code == 400
    assert follow(client, url).status_code == 400  # the pending state is gone as well
    assert signed_out(client)


def test_an_expired_state_is_refused(app, client, bound_user):
    app.config["WECHAT_OAUTH_STATE_SECONDS"] = 0
    url = callback_url(client, authorize_redirect(client))
    r = follow(client, url)
    assert r.status_code == 400
    assert 'data-error-code="oauth_state_invalid"' in r.get_data(as_text=True)
    assert signed_out(client)


def test_a_bad_code_is_refused_by_wechat_and_opens_nothing(client, bound_user):
    url = callback_url(client, authorize_redirect(client))
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    r = client.get(parts.path, query_string={**query, "code": "made-up-code"})
    assert r.status_code == 400
    body = r.get_data(as_text=True)
    assert 'data-error-code="oauth_code_invalid"' in body and "made-up-code" not in body
    assert signed_out(client)


def test_a_callback_without_a_code_opens_nothing(client, bound_user):
    url = callback_url(client, authorize_redirect(client))
    parts = urlsplit(url)
    r = client.get(parts.path, query_string={"state": parse_qs(parts.query)["state"][0]})
    assert r.status_code == 400
    assert 'data-error-code="oauth_code_missing"' in r.get_data(as_text=True)
    assert signed_out(client)


def test_wechat_unreachable_is_said_in_chinese(app, client, bound_user):
    url = callback_url(client, authorize_redirect(client))
    app.config["WECHAT_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    r = follow(client, url)
    assert r.status_code == 503
    assert "暂时无法连接微信" in r.get_data(as_text=True)
    assert signed_out(client)


def test_wechat_busy_is_said_in_chinese(client, bound_user, sandbox):
    url = callback_url(client, authorize_redirect(client))
    sandbox.fault(errcode=-1, times=1)
    r = follow(client, url)
    assert r.status_code == 503
    assert 'data-error-code="wechat_unavailable"' in r.get_data(as_text=True)
    assert signed_out(client)
    assert mobile_login(client, OPENID).status_code == 302  # starting over works


# --- who may sign in ----------------------------------------------------------------------------

def test_an_unbound_openid_is_told_how_to_bind_and_sees_no_data(app, client, make_user,
                                                                 make_interview):
    make_user()  # exists, but bound to nothing
    iv = make_interview(name="李四")
    r = mobile_login(client, "oa-openid-stranger")
    assert r.status_code == 403
    body = r.get_data(as_text=True)
    assert 'data-error-code="wechat_not_bound"' in body
    assert "绑定" in body and "二维码" in body
    for private in ("李四", iv.number, "王招聘", "zhaopin"):
        assert private not in body
    assert signed_out(client)


def test_the_openid_must_be_the_users_own_binding(app, client, bound_user, make_user):
    make_user("other", display_name="赵其他")
    r = mobile_login(client, "sandbox-hr-other")  # the WechatAccount-less, unbound openid
    assert r.status_code == 403
    assert signed_out(client)


def test_the_oa_identity_linked_to_a_user_counts_as_the_binding_until_unbound(app, demo,
                                                                             client):
    from app.services.users import accounts

    # the demo links sandbox-hr-manager to the manager as HR message routing reads it
    r = mobile_login(client, "sandbox-hr-manager")
    assert r.status_code == 302 and r.headers["Location"] == "/console/m/approvals"
    assert "李经理" in client.get("/console/m/approvals").get_data(as_text=True)
    with app.app_context():
        manager, admin = (db.session.scalar(select(HrUser.id).where(HrUser.username == name))
                          for name in ("manager", "admin"))
        assert accounts.unbind_wechat(manager, actor_id=admin)
    fresh = app.test_client()
    assert mobile_login(fresh, "sandbox-hr-manager").status_code == 403


def test_a_disabled_user_is_refused(app, client, bound_user):
    with app.app_context():
        db.session.execute(update(HrUser).where(HrUser.id == bound_user).values(active=False))
        db.session.commit()
    r = mobile_login(client, OPENID)
    assert r.status_code == 403
    assert "该账号已停用" in r.get_data(as_text=True)
    assert signed_out(client)
    assert open_sessions(app, bound_user) == 0
    assert audit_actions(app, bound_user) == ["hr_user.sign_in_failed"]


def test_a_user_who_must_change_the_password_is_sent_to_change_it_first(app, client,
                                                                        bound_user):
    with app.app_context():
        db.session.execute(update(HrUser).where(HrUser.id == bound_user)
                           .values(must_change_password=True))
        db.session.commit()
    r = mobile_login(client, OPENID)
    assert r.status_code == 302
    assert urlsplit(r.headers["Location"]).path == "/console/account/password"
    assert parse_qs(urlsplit(r.headers["Location"]).query)["next"] == ["/console/m/approvals"]
    r = client.get("/console/m/approvals")
    assert r.status_code == 302
    assert urlsplit(r.headers["Location"]).path == "/console/account/password"


def test_disabling_a_user_ends_their_mobile_session(app, client, bound_user):
    from app.services.users import accounts

    admin_id = hr_user(app, "boss", role=Role.ADMIN, display_name="管理员")
    mobile_login(client, OPENID)
    assert client.get("/console/m/approvals").status_code == 200
    with app.app_context():
        accounts.disable_user(bound_user, actor_id=admin_id)
    assert signed_out(client)


# --- the sandbox speaks WeChat's OAuth ----------------------------------------------------

def sandbox_code(live_url: str, openid: str = OPENID) -> str:
    r = requests.get(f"{live_url}/_sandbox/wechat/connect/oauth2/authorize", params={
        "appid": "wxsandboxoa00000001", "redirect_uri": "https://127.0.0.1/cb?x=1",
        "response_type": "code", "scope": "snsapi_base", "state": "abc",
        "sandbox_openid": openid}, allow_redirects=False, timeout=5)
    assert r.status_code == 302, r.text
    back = urlsplit(r.headers["Location"])
    assert (back.netloc, back.path) == ("127.0.0.1", "/cb")
    query = parse_qs(back.query)
    assert query["x"] == ["1"] and query["state"] == ["abc"]
    return query["code"][0]


def exchange(app, live_url: str, issued: str, **override):
    params = {"appid": app.config["WECHAT_OA_APPID"], "secret": app.config["WECHAT_OA_SECRET"],
              "code": issued, "grant_type": "authorization_code", **override}
    return requests.get(f"{live_url}/_sandbox/wechat/sns/oauth2/access_token", params=params,
                        timeout=5).json()


def test_sandbox_code_gives_the_openid_once(app, live_url):
    code = sandbox_code(live_url)
    answer = exchange(app, live_url, code)
    assert answer["openid"] == OPENID and answer["scope"] == "snsapi_base", answer
    assert answer["access_token"] and answer["expires_in"] == 7200
    assert exchange(app, live_url, code)["errcode"] == 40163


def test_sandbox_code_expires_after_five_minutes(app, live_url, sandbox):
    code = sandbox_code(live_url)
    sandbox.post("clock", advance_seconds=301)
    assert exchange(app, live_url, code)["errcode"] == 40029


@pytest.mark.parametrize(("override", "errcode"), [
    ({"code": "never-issued"}, 40029), ({"secret": "wrong"}, 40125),
    ({"appid": "wxsandboxmp00000001"}, 40013), ({"grant_type": "client_credential"}, 40002)])
def test_sandbox_exchange_refuses_what_wechat_refuses(app, live_url, override, errcode):
    code = sandbox_code(live_url)
    assert exchange(app, live_url, code, **override)["errcode"] == errcode
    if "code" not in override:
        assert exchange(app, live_url, code)["openid"] == OPENID  # not spent by the refusal


@pytest.mark.parametrize(("override", "errcode"), [
    ({"appid": "wxsandboxmp00000001"}, "40013"), ({"scope": "snsapi_login"}, "10005"),
    ({"redirect_uri": "javascript:alert(1)"}, "10003"), ({"response_type": "token"}, "10004"),
    ({"redirect_uri": "https://evil.example/console/m/oauth/callback"}, "10003")])
def test_sandbox_authorize_page_refuses_a_wrong_request(live_url, override, errcode):
    params = {"appid": "wxsandboxoa00000001", "redirect_uri": live_url + "/cb",
              "response_type": "code", "scope": "snsapi_base", "state": "s",
              "sandbox_openid": OPENID, **override}
    r = requests.get(f"{live_url}/_sandbox/wechat/connect/oauth2/authorize", params=params,
                     allow_redirects=False, timeout=5)
    assert r.status_code == 400 and errcode in r.text


def test_sandbox_authorize_page_asks_who_the_user_is_and_remembers(live_url, sandbox):
    sandbox.post("followers", openid="sandbox-hr-manager")
    params = {"appid": "wxsandboxoa00000001", "redirect_uri": live_url + "/cb",
              "response_type": "code", "scope": "snsapi_base", "state": "s"}
    url = f"{live_url}/_sandbox/wechat/connect/oauth2/authorize"
    browser = requests.Session()
    r = browser.get(url, params=params, allow_redirects=False, timeout=5)
    assert r.status_code == 200 and "sandbox-hr-manager" in r.text
    r = browser.get(url, params={**params, "sandbox_openid": OPENID}, allow_redirects=False,
                    timeout=5)
    assert r.status_code == 302
    r = browser.get(url, params=params, allow_redirects=False, timeout=5)  # the cookie
    assert r.status_code == 302
