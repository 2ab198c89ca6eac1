"""Console sign-in security, through the real login form (CSRF on):
- repeated failures lock a username (and an address) for a while, with one message that
  does not tell whether the username exists; the lock runs out or an admin lifts it;
- a session lives on the server: logout, disabling the user, a new password, idleness and
  age end it, and a copy of its cookie with it;
- every login starts a new session, so nothing from before it (the CSRF token included)
  carries over;
- the candidate API still gets no cookie session.
"""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask import request
from sqlalchemy import select

from app.core.errors import Forbidden
from app.extensions import db, redis_store
from app.models import AuditEntry, HrUser, Role
from app.services.users import accounts, console_sessions, login_throttle

LOCKED = "登录失败次数过多，请15分钟后再试或联系管理员解锁"
WRONG = "用户名或密码错误"
PASSWORD = "correct-horse-42"
NEW_PASSWORD = "battery-staple-77"
ERROR_RE = re.compile(r'<p class="error" role="alert">([^<]*)</p>')
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _text(response) -> str:
    return response.get_data(as_text=True)


def _error(response) -> str | None:
    match = ERROR_RE.search(_text(response))
    return match.group(1) if match else None


def _logged_in(client) -> bool:
    response = client.get("/console/interviews")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def _copy_of(app, client):
    """Another browser holding a copy of this client's session cookie."""
    name = app.config["SESSION_COOKIE_NAME"]
    copy = app.test_client()
    copy.set_cookie(name, client.get_cookie(name).value)
    return copy


def _fail(client, login, username="zhaopin", times=1):
    return [login(client, username, "wrong-password") for _ in range(times)]


def _only_record(app, user_id) -> str:
    with app.app_context():
        [key] = console_sessions.records_of(user_id)
        return key


def _admin(app, make_user, login):
    make_user(username="guanli", role=Role.ADMIN, display_name="管理员")
    admin = app.test_client()
    assert login(admin, "guanli").status_code == 302
    return admin


# Login throttling ------------------------------------------------------------------------

def test_thirty_wrong_passwords_then_the_right_one_is_refused(client, make_user, login):
    make_user()
    errors = [_error(r) for r in _fail(client, login, times=30)]
    assert errors[:4] == [WRONG] * 4
    assert errors[4:] == [LOCKED] * 26  # the fifth failure locks
    response = login(client, "zhaopin")
    assert response.status_code == 200 and _error(response) == LOCKED
    assert not _logged_in(client)


def test_a_lock_does_not_tell_whether_the_username_exists(client, make_user, login):
    make_user()
    known = [_error(r) for r in _fail(client, login, "zhaopin", times=6)]
    unknown = [_error(r) for r in _fail(client, login, "nobody", times=6)]
    assert known == unknown == [WRONG] * 4 + [LOCKED] * 2


def test_the_lock_runs_out(app, client, make_user, login):
    make_user()
    _fail(client, login, times=5)
    with app.app_context():
        key = login_throttle.account_lock_key("zhaopin")
        assert 15 * 60 - 5 <= redis_store.client.ttl(key) <= 15 * 60
        redis_store.client.pexpire(key, 1)  # fifteen minutes later
    time.sleep(0.05)
    assert login(client, "zhaopin").status_code == 302
    assert _logged_in(client)


def test_failure_limit_and_lock_length_are_settings(app, client, make_user, login):
    app.config.update(CONSOLE_LOGIN_MAX_FAILURES=3, CONSOLE_LOGIN_LOCK_MINUTES=2)
    make_user()
    errors = [_error(r) for r in _fail(client, login, times=3)]
    assert errors == [WRONG, WRONG, "登录失败次数过多，请2分钟后再试或联系管理员解锁"]
    with app.app_context():
        assert 115 <= redis_store.client.ttl(login_throttle.account_lock_key("zhaopin")) <= 120


def test_usernames_differing_in_case_share_one_budget(client, make_user, login):
    make_user()
    _fail(client, login, "ZhaoPin", times=3)
    _fail(client, login, " zhaopin ", times=2)
    assert _error(login(client, "zhaopin")) == LOCKED


def test_a_successful_login_gives_the_username_its_budget_back(client, make_user, login,
                                                               csrf_token):
    make_user()
    _fail(client, login, times=4)
    assert login(client, "zhaopin").status_code == 302
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/interviews")})
    assert [_error(r) for r in _fail(client, login, times=4)] == [WRONG] * 4
    assert login(client, "zhaopin").status_code == 302


def test_failures_from_one_address_lock_that_address(app, client, make_user, login):
    app.config["CONSOLE_LOGIN_IP_MAX_FAILURES"] = 6
    make_user()
    errors = [_error(r) for name in ("li", "wang") for r in _fail(client, login, name, times=3)]
    assert errors == [WRONG] * 5 + [LOCKED]  # no username reached its own limit of 5
    assert _error(login(client, "zhaopin")) == LOCKED
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.20.30.40"
    assert login(elsewhere, "zhaopin").status_code == 302


def test_successful_logins_do_not_use_up_the_address_budget(app, make_user, login):
    app.config["CONSOLE_LOGIN_IP_MAX_FAILURES"] = 3
    make_user()
    for _ in range(5):  # one office, one address, everyone logging in fine
        assert login(app.test_client(), "zhaopin").status_code == 302
    client = app.test_client()
    assert [_error(r) for r in _fail(client, login, "li", times=3)] == [WRONG, WRONG, LOCKED]


def test_a_burst_of_parallel_guesses_gets_no_more_than_the_budget(app, make_user, live_url):
    """Over real HTTP to the threaded live server: the guesses are in flight together."""
    make_user()
    page = requests.get(f"{live_url}/console/login", timeout=10)
    token = CSRF_RE.search(page.text).group(1)

    def guess(i):
        response = requests.post(f"{live_url}/console/login", cookies=page.cookies, timeout=30,
                                 data={"csrf_token": token, "username": "zhaopin",
                                       "password": f"wrong-password-{i}"})
        match = ERROR_RE.search(response.text)
        return match.group(1) if match else response.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        errors = list(pool.map(guess, range(40)))
    assert errors.count(WRONG) == 4 and errors.count(LOCKED) == 36


def test_an_admin_unlocks_a_locked_login(app, client, make_user, login, csrf_token):
    user_id = make_user()
    _fail(client, login, times=5)
    admin = _admin(app, make_user, login)
    unlock = f"/console/users/{user_id}/unlock"
    page = _text(admin.get("/console/users"))
    assert "王招聘" in page and "招聘专员" in page and "系统管理员" in page
    assert "登录已锁定" in page and f'action="{unlock}"' in page

    response = admin.post(unlock, data={"csrf_token": csrf_token(admin, "/console/users")})
    assert response.status_code == 302 and response.headers["Location"] == "/console/users"
    page = _text(admin.get("/console/users"))
    assert "已解锁，该用户可以重新登录" in page and f'action="{unlock}"' not in page
    assert login(client, "zhaopin").status_code == 302
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "hr_user.login_unlocked")).one()
        admin_id = db.session.scalar(select(HrUser.id).where(HrUser.username == "guanli"))
        assert (entry.actor_type, entry.actor_id, entry.object_type, entry.object_id,
                entry.data) == ("hr", admin_id, "hr_user", user_id, {"was_locked": True})


def test_unlock_needs_the_csrf_token(app, client, make_user, login):
    user_id = make_user()
    _fail(client, login, times=5)
    admin = _admin(app, make_user, login)
    assert admin.post(f"/console/users/{user_id}/unlock").status_code == 400
    assert _error(login(client, "zhaopin")) == LOCKED


@pytest.mark.parametrize("role", [Role.RECRUITING_MANAGER, Role.RECRUITING_SPECIALIST,
                                  Role.INTERVIEWER])
def test_only_admins_manage_users(app, client, make_user, login, csrf_token, role):
    user_id = make_user()
    _fail(client, login, times=5)
    make_user(username="other", role=role)
    other = app.test_client()
    assert login(other, "other").status_code == 302
    assert "用户管理" not in _text(other.get("/console/interviews"))
    assert other.get("/console/users").status_code == 403
    token = csrf_token(other, "/console/interviews")
    for action in ("unlock", "disable"):
        response = other.post(f"/console/users/{user_id}/{action}", data={"csrf_token": token})
        assert response.status_code == 403
    assert _error(login(client, "zhaopin")) == LOCKED
    with app.app_context():
        assert db.session.get(HrUser, user_id).active


def test_the_user_services_check_the_permission_themselves(app, make_user):
    user_id = make_user()
    manager_id = make_user(username="jingli", role=Role.RECRUITING_MANAGER)
    with app.app_context():
        for call in (lambda: accounts.unlock_login(user_id, actor_id=manager_id),
                     lambda: accounts.disable_user(user_id, actor_id=manager_id),
                     lambda: accounts.reset_password(user_id, NEW_PASSWORD,
                                                     actor_id=manager_id),
                     lambda: accounts.list_users(actor_id=manager_id)):
            with pytest.raises(Forbidden):
                call()
        assert db.session.get(HrUser, user_id).active


# Server-side sessions --------------------------------------------------------------------

def test_a_cookie_copied_before_logout_is_refused_after_it(app, client, make_user, login,
                                                          csrf_token):
    make_user()
    assert login(client, "zhaopin").status_code == 302
    copy = _copy_of(app, client)
    assert _logged_in(copy)  # the copy works while the session stands
    response = client.post("/console/logout",
                           data={"csrf_token": csrf_token(client, "/console/interviews")})
    assert response.status_code == 302
    response = copy.get("/console/interviews")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=")


def test_a_cookie_without_a_server_session_is_refused(client, make_user):
    user_id = make_user()
    with client.session_transaction() as session:  # what a signed cookie alone would say
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
    assert not _logged_in(client)


def test_disabling_a_user_ends_all_their_sessions(app, client, make_user, login, csrf_token):
    user_id = make_user()
    other_browser = app.test_client()
    for browser in (client, other_browser):
        assert login(browser, "zhaopin").status_code == 302
    admin = _admin(app, make_user, login)
    response = admin.post(f"/console/users/{user_id}/disable",
                          data={"csrf_token": csrf_token(admin, "/console/users")})
    assert response.status_code == 302
    assert "已停用该用户，其 2 个登录会话已失效" in _text(admin.get("/console/users"))
    assert not _logged_in(client) and not _logged_in(other_browser)
    assert "已停用" in _text(login(client, "zhaopin"))
    with app.app_context():
        assert console_sessions.records_of(user_id) == {}
        assert db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "hr_user.disabled")).one().object_id == user_id


def test_admins_cannot_disable_themselves(app, make_user, login, csrf_token):
    admin = _admin(app, make_user, login)
    with app.app_context():
        admin_id = db.session.scalar(select(HrUser.id).where(HrUser.username == "guanli"))
    response = admin.post(f"/console/users/{admin_id}/disable",
                          data={"csrf_token": csrf_token(admin, "/console/users")})
    assert response.status_code == 302
    assert "不能停用自己的账号" in _text(admin.get("/console/users"))
    assert _logged_in(admin)


def test_changing_the_password_ends_the_other_sessions(app, client, make_user, login,
                                                       csrf_token):
    user_id = make_user()
    other_browser = app.test_client()
    for browser in (client, other_browser):
        assert login(browser, "zhaopin").status_code == 302
    copy_from_before = _copy_of(app, client)
    response = client.post("/console/account/password", data={
        "csrf_token": csrf_token(client, "/console/account/password"),
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert "密码已修改，您在其他设备上的登录已全部退出" in _text(client.get("/console/interviews"))
    assert _logged_in(client)  # this browser goes on, under a new session id
    assert not _logged_in(other_browser) and not _logged_in(copy_from_before)
    assert _error(login(other_browser, "zhaopin")) == WRONG
    assert login(other_browser, "zhaopin", NEW_PASSWORD).status_code == 302
    with app.app_context():
        assert len(console_sessions.records_of(user_id)) == 2
        assert db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "hr_user.password_changed")).one().actor_id == user_id


@pytest.mark.parametrize("fields,message", [
    ({"current_password": "not-my-password", "new_password": NEW_PASSWORD,
      "confirm_password": NEW_PASSWORD}, "当前密码不正确"),
    ({"current_password": PASSWORD, "new_password": "short",
      "confirm_password": "short"}, "新密码至少10位"),
    ({"current_password": PASSWORD, "new_password": NEW_PASSWORD,
      "confirm_password": NEW_PASSWORD + "x"}, "两次输入的新密码不一致"),
    ({"current_password": PASSWORD, "new_password": PASSWORD,
      "confirm_password": PASSWORD}, "新密码不能与当前密码相同"),
])
def test_a_refused_password_change_changes_nothing(app, client, make_user, login, csrf_token,
                                                   fields, message):
    make_user()
    other_browser = app.test_client()
    for browser in (client, other_browser):
        assert login(browser, "zhaopin").status_code == 302
    response = client.post("/console/account/password", data={
        "csrf_token": csrf_token(client, "/console/account/password"), **fields})
    assert response.status_code == 200 and message in _text(response)
    assert _logged_in(client) and _logged_in(other_browser)


def test_an_admin_password_reset_ends_every_session(app, client, make_user, login):
    user_id = make_user()
    assert login(client, "zhaopin").status_code == 302
    admin_id = make_user(username="guanli", role=Role.ADMIN)
    with app.app_context():
        assert accounts.reset_password(user_id, NEW_PASSWORD, actor_id=admin_id).revoked == 1
    assert not _logged_in(client)
    response = login(client, "zhaopin", NEW_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/account/password")


def test_a_password_changed_any_other_way_ends_the_sessions_too(app, client, make_user,
                                                                login):
    user_id = make_user()
    assert login(client, "zhaopin").status_code == 302
    with app.app_context():  # e.g. a script or SQL: nothing revoked the sessions
        user = db.session.get(HrUser, user_id)
        user.set_password(NEW_PASSWORD)
        db.session.commit()
    assert not _logged_in(client)


@pytest.mark.parametrize("idle_minutes", [None, 5])
def test_an_idle_session_ends(app, client, make_user, login, idle_minutes):
    if idle_minutes is not None:
        app.config["CONSOLE_IDLE_MINUTES"] = idle_minutes
    idle = (idle_minutes or 30) * 60  # default: CONSOLE_IDLE_MINUTES = 30
    user_id = make_user()
    assert login(client, "zhaopin").status_code == 302
    key = _only_record(app, user_id)
    with app.app_context():
        assert idle - 5 <= redis_store.client.ttl(key) <= idle
        redis_store.client.hset(key, "last_seen", repr(time.time() - idle + 60))
    assert _logged_in(client)  # used within the idle time: it goes on, and counts as use
    with app.app_context():
        assert float(redis_store.client.hget(key, "last_seen")) > time.time() - 5
        redis_store.client.hset(key, "last_seen", repr(time.time() - idle - 1))
    response = client.get("/console/interviews")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]
    with app.app_context():
        assert not redis_store.client.exists(key)


@pytest.mark.parametrize("hours", [None, 2])
def test_a_session_ends_at_its_maximum_age_however_busy(app, client, make_user, login, hours):
    if hours is not None:
        app.config["CONSOLE_SESSION_HOURS"] = hours
    max_age = (hours or 12) * 3600  # default: CONSOLE_SESSION_HOURS = 12
    user_id = make_user()
    assert login(client, "zhaopin").status_code == 302
    key = _only_record(app, user_id)
    with app.app_context():
        redis_store.client.hset(key, "created_at", repr(time.time() - max_age + 60))
    assert _logged_in(client)
    with app.app_context():  # its time in Redis is cut to what is left of its life
        assert 0 < redis_store.client.ttl(key) <= 60
        redis_store.client.hset(key, "created_at", repr(time.time() - max_age - 1))
    assert not _logged_in(client)


def test_every_login_gets_its_own_server_session(app, client, make_user, login):
    user_id = make_user()
    other_browser = app.test_client()
    for browser in (client, other_browser):
        assert login(browser, "zhaopin").status_code == 302
    with app.app_context():
        records = console_sessions.records_of(user_id)
    assert len(records) == 2 and {r.user_id for r in records.values()} == {user_id}


# A new session at login ------------------------------------------------------------------

def test_the_csrf_token_changes_at_login(client, make_user, csrf_token):
    make_user()
    before = csrf_token(client)
    with client.session_transaction() as session:
        raw_before = session["csrf_token"]
        session["planted"] = "set before login"
    response = client.post("/console/login", data={"csrf_token": before,
                                                   "username": "zhaopin",
                                                   "password": PASSWORD})
    assert response.status_code == 302
    after = csrf_token(client, "/console/interviews")
    with client.session_transaction() as session:
        assert session["csrf_token"] != raw_before
        assert "planted" not in session  # nothing from before login carries over
    assert after != before

    response = client.post("/console/logout", data={"csrf_token": before})
    assert response.status_code == 400 and "页面已过期" in _text(response)
    assert _logged_in(client)
    assert client.post("/console/logout", data={"csrf_token": after}).status_code == 302
    assert not _logged_in(client)


def test_a_cookie_from_before_login_does_not_log_in(app, client, make_user, login, csrf_token):
    make_user()
    csrf_token(client)  # the login page: the pre-login session now holds a CSRF token
    planted = _copy_of(app, client)
    assert login(client, "zhaopin").status_code == 302
    assert _logged_in(client) and not _logged_in(planted)


# The null session outside the console ----------------------------------------------------

@pytest.mark.parametrize("path", ["/api/mp/v1/cancel-reasons", "/api/mp/v1/interviews",
                                  "/healthz"])
def test_the_candidate_api_gets_no_cookie_session(app, client, make_user, login, path):
    make_user()
    assert login(client, "zhaopin").status_code == 302  # even with a console cookie
    response = client.get(path)
    assert "Set-Cookie" not in response.headers
    with app.test_request_context(path):
        assert app.session_interface.is_null_session(
            app.session_interface.open_session(app, request))
