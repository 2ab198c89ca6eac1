"""Settings: HR users (/console/users, admins only), through the real forms (CSRF on):
create with a generated (shown once) or typed initial password, edit role and
departments, disable and enable, reset a password (the next sign-in goes to 修改密码
before anything else), unlock a login and a locked address, remove the WeChat binding;
the guard rails (not oneself, not the last active admin); every change audited with
before and after and never a password; `flask create-user --password/--password-stdin`.
"""
from __future__ import annotations

import json
import re
import threading

import pytest
from sqlalchemy import func, select

from app.core.errors import Conflict, Forbidden, ValidationFailed
from app.core.timeutil import utcnow
from app.extensions import db
from app.models import AuditEntry, HrUser, Role, WechatAccount, WechatApp
from app.services.users import accounts, passwords
from tests import factories

SHOWN_ONCE_RE = re.compile(r'<code id="shown-once">([^<]+)</code>')
NEW = "fresh-start-2027"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _admin(app, make_user, login, username="guanli"):
    admin_id = make_user(username=username, role=Role.ADMIN, display_name="管理员",
                         departments=())
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client, admin_id


def _post(client, path, data=None, token_page="/console/users"):
    token = factories.csrf_token(client, token_page)
    return client.post(path, data={"csrf_token": token, **(data or {})})


def _user(app, username) -> HrUser:
    with app.app_context():
        user = db.session.scalars(select(HrUser).where(HrUser.username == username)).one()
        db.session.expunge(user)
        return user


def _entries(app, action) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                  .order_by(AuditEntry.id)).all()
        db.session.expunge_all()
        return list(rows)


def _all_audit_text(app) -> str:
    with app.app_context():
        return json.dumps([e.data for e in db.session.scalars(select(AuditEntry))],
                          ensure_ascii=False)


def _logged_in(client) -> bool:
    return client.get("/console/interviews").status_code == 200


# Creating ---------------------------------------------------------------------------------

def test_an_admin_creates_a_user_with_a_generated_password_shown_once(app, make_user,
                                                                      login):
    admin, admin_id = _admin(app, make_user, login)
    factories.position(app, department="销售部")
    page = _text(admin.get("/console/users/new"))
    assert "销售部" in page and "技术部" not in page  # departments come from positions
    response = _post(admin, "/console/users/new", {
        "username": "liming", "display_name": "李明", "role": "recruiting_manager",
        "departments": ["销售部"], "other_departments": "市场部， 财务部",
        "email": "li@example.com", "password_mode": "generate"},
        token_page="/console/users/new")
    assert response.status_code == 200
    password = SHOWN_ONCE_RE.search(_text(response)).group(1)
    passwords.check(password, username="liming")  # it meets the rules

    user = _user(app, "liming")
    assert (user.display_name, user.role, sorted(user.departments), user.email,
            user.must_change_password) == ("李明", Role.RECRUITING_MANAGER,
                                           ["市场部", "财务部", "销售部"], "li@example.com", True)
    assert password not in _text(admin.get("/console/users"))  # never shown again
    [entry] = _entries(app, "hr_user.created")
    assert (entry.actor_id, entry.object_id, entry.data["before"]) == (admin_id, user.id, None)
    assert entry.data["after"]["role"] == "recruiting_manager"
    audit_text = _all_audit_text(app)
    assert password not in audit_text and user.password_hash not in audit_text

    # The new user's first sign-in goes to 修改密码 first.
    new = app.test_client()
    response = login(new, "liming", password)
    assert response.headers["Location"].startswith("/console/account/password")


def test_a_typed_initial_password_is_checked_with_chinese_errors(app, make_user, login):
    admin, _ = _admin(app, make_user, login)
    base = {"username": "liming", "display_name": "李明", "role": "interviewer",
            "password_mode": "typed"}
    for password, message in [("short1", "密码至少10位"),
                              ("onlyletters-here", "密码需同时包含字母和数字"),
                              ("liming-2027-x", "密码不能包含用户名")]:
        response = _post(admin, "/console/users/new", {**base, "password": password},
                         token_page="/console/users/new")
        assert response.status_code == 200 and message in _text(response)
    response = _post(admin, "/console/users/new", {**base, "username": "bad name!",
                                                   "password": NEW},
                     token_page="/console/users/new")
    assert "用户名需为2到64位字母" in _text(response)
    response = _post(admin, "/console/users/new", {**base, "password": NEW},
                     token_page="/console/users/new")
    assert response.status_code == 302
    assert "已创建用户 liming" in _text(admin.get("/console/users"))
    response = _post(admin, "/console/users/new", {**base, "username": "LiMing",
                                                   "password": NEW},
                     token_page="/console/users/new")
    assert "用户名已存在" in _text(response)
    with app.app_context():
        assert db.session.scalars(select(HrUser).where(HrUser.username.in_(
            ["liming", "LiMing", "bad name!"]))).all()[0].username == "liming"
        assert len(_entries(app, "hr_user.created")) == 1


# Editing, the guard rails ------------------------------------------------------------------

def test_an_admin_edits_role_and_departments_audited_before_and_after(app, make_user, login):
    admin, admin_id = _admin(app, make_user, login)
    user_id = make_user()  # 招聘专员, 技术部
    page = _text(admin.get(f"/console/users/{user_id}/edit"))
    assert 'value="技术部" checked' in page
    response = _post(admin, f"/console/users/{user_id}/edit", {
        "display_name": "王招聘", "role": "recruiting_manager", "departments": ["技术部"],
        "other_departments": "销售部", "email": ""}, token_page=f"/console/users/{user_id}/edit")
    assert response.status_code == 302
    user = _user(app, "zhaopin")
    assert user.role == Role.RECRUITING_MANAGER and user.departments == ["技术部", "销售部"]
    [entry] = _entries(app, "hr_user.updated")
    assert entry.actor_id == admin_id and entry.data == {
        "before": {"role": "recruiting_specialist", "departments": ["技术部"]},
        "after": {"role": "recruiting_manager", "departments": ["技术部", "销售部"]}}


def test_an_admin_cannot_demote_or_disable_themselves(app, make_user, login):
    admin, admin_id = _admin(app, make_user, login)
    make_user(username="other", role=Role.ADMIN)
    response = _post(admin, f"/console/users/{admin_id}/edit", {
        "display_name": "管理员", "role": "interviewer"},
        token_page=f"/console/users/{admin_id}/edit")
    assert "不能取消自己的系统管理员角色" in _text(response)
    _post(admin, f"/console/users/{admin_id}/disable")
    assert "不能停用自己的账号" in _text(admin.get("/console/users"))
    assert _user(app, "guanli").role == Role.ADMIN and _user(app, "guanli").active
    assert _entries(app, "hr_user.updated") == _entries(app, "hr_user.disabled") == []


def test_two_admins_disabling_each_other_at_once_leave_one_active(app, make_user):
    """Each admin alone may disable the other (neither is the last); at once, the guard
    under the row locks lets one of them through."""
    first = make_user(username="first", role=Role.ADMIN)
    second = make_user(username="second", role=Role.ADMIN)
    barrier = threading.Barrier(2)
    outcomes = {}

    def disable(target, actor):
        with app.app_context():
            barrier.wait()
            try:
                accounts.disable_user(target, actor_id=actor)
                outcomes[actor] = "done"
            except (Conflict, Forbidden) as exc:
                outcomes[actor] = exc.code
            finally:
                db.session.remove()

    threads = [threading.Thread(target=disable, args=pair)
               for pair in ((second, first), (first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes.values())[0] == "done"
    assert sorted(outcomes.values())[1] in ("last_active_admin", "forbidden")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HrUser).where(
            HrUser.role == Role.ADMIN, HrUser.active.is_(True))) == 1


def test_the_last_admin_guard_speaks_chinese(app, make_user):
    only = make_user(username="only", role=Role.ADMIN)
    with app.app_context():
        with pytest.raises(Conflict) as info:
            accounts._keep_an_admin(db.session.get(HrUser, only))
    assert info.value.code == "last_active_admin"
    assert info.value.message == "这是最后一个启用中的系统管理员，不能停用或取消其管理员角色"
    second = make_user(username="second", role=Role.ADMIN)
    with app.app_context():  # with a second admin, demoting the first one works
        assert accounts.update_user(only, actor_id=second, display_name="前管理员",
                                    role="recruiting_manager", email=None, departments=())
        with pytest.raises(Conflict) as info:
            accounts.update_user(second, actor_id=second, display_name="x", role="interviewer",
                                 email=None, departments=())
        assert info.value.code == "cannot_demote_self"


# Disabling, enabling, sessions --------------------------------------------------------------

def test_disable_ends_sessions_and_enable_lets_the_user_in_again(app, make_user, login):
    user_id = make_user()
    browser = app.test_client()
    assert login(browser, "zhaopin").status_code == 302
    admin, _ = _admin(app, make_user, login)
    _post(admin, f"/console/users/{user_id}/disable")
    assert "已停用该用户，其 1 个登录会话已失效" in _text(admin.get("/console/users"))
    assert not _logged_in(browser)
    page = _text(admin.get("/console/users"))
    assert f'action="/console/users/{user_id}/enable"' in page
    _post(admin, f"/console/users/{user_id}/enable")
    assert "已重新启用该用户" in _text(admin.get("/console/users"))
    assert login(browser, "zhaopin").status_code == 302 and _logged_in(browser)
    assert [e.data for e in _entries(app, "hr_user.enabled")] == [
        {"before": {"active": False}, "after": {"active": True}}]
    assert [e.data for e in _entries(app, "hr_user.disabled")] == [
        {"before": {"active": True}, "after": {"active": False}}]


# Password reset and the forced change -------------------------------------------------------

def test_a_reset_password_forces_a_change_before_anything_else(app, make_user, login,
                                                               csrf_token):
    user_id = make_user()
    browser = app.test_client()
    assert login(browser, "zhaopin").status_code == 302
    admin, admin_id = _admin(app, make_user, login)
    response = _post(admin, f"/console/users/{user_id}/reset-password",
                     {"password_mode": "generate"},
                     token_page=f"/console/users/{user_id}/reset-password")
    temporary = SHOWN_ONCE_RE.search(_text(response)).group(1)
    assert "原有的 1 个登录会话已失效" in _text(response)
    assert not _logged_in(browser)  # the old session ended
    assert temporary not in _text(admin.get("/console/users"))
    assert "待修改密码" in _text(admin.get("/console/users"))

    response = login(browser, "zhaopin", temporary, next_url="/console/approvals")
    assert response.headers["Location"].startswith("/console/account/password")
    for path in ("/console/interviews", "/console/approvals", "/console/settings"):
        response = browser.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/console/account/password")
    page = _text(browser.get("/console/account/password"))
    assert "管理员已重置您的密码" in page
    response = browser.post("/console/account/password?next=/console/approvals", data={
        "csrf_token": csrf_token(browser, "/console/account/password"),
        "current_password": temporary, "new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 302 and response.headers["Location"] == "/console/approvals"
    assert _logged_in(browser)
    assert not _user(app, "zhaopin").must_change_password
    [entry] = _entries(app, "hr_user.password_reset")
    assert entry.actor_id == admin_id and entry.data["generated"] is True
    audit_text = _all_audit_text(app)
    assert temporary not in audit_text and NEW not in audit_text


def test_a_typed_temporary_password_follows_the_rules(app, make_user, login):
    user_id = make_user()
    admin, _ = _admin(app, make_user, login)
    page = f"/console/users/{user_id}/reset-password"
    response = _post(admin, page, {"password_mode": "typed", "password": "short"},
                     token_page=page)
    assert response.status_code == 200 and "密码至少10位" in _text(response)
    response = _post(admin, page, {"password_mode": "typed", "password": NEW},
                     token_page=page)
    assert response.status_code == 302
    browser = app.test_client()
    assert login(browser, "zhaopin", NEW).headers["Location"].startswith(
        "/console/account/password")


def test_a_forced_user_may_still_log_out(app, make_user, login, csrf_token):
    make_user(must_change_password=True)
    browser = app.test_client()
    assert login(browser, "zhaopin").status_code == 302
    response = browser.post("/console/logout", data={
        "csrf_token": csrf_token(browser, "/console/account/password")})
    assert response.status_code == 302 and response.headers["Location"] == "/console/login"


# Unlocking ------------------------------------------------------------------------------------

def test_an_admin_unlocks_a_locked_address(app, make_user, login):
    app.config["CONSOLE_LOGIN_IP_MAX_FAILURES"] = 3
    make_user()
    office = app.test_client()
    office.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    for name in ("a", "b", "c"):
        login(office, name, "wrong-password")
    assert "登录失败次数过多" in _text(login(office, "zhaopin"))
    admin, admin_id = _admin(app, make_user, login)  # from another address
    page = _text(admin.get("/console/users"))
    assert "203.0.113.7" in page
    response = _post(admin, "/console/users/addresses/unlock", {"address": "203.0.113.7"})
    assert response.status_code == 302
    page = _text(admin.get("/console/users"))
    assert "已解锁IP地址 203.0.113.7" in page and "<code>203.0.113.7</code>" not in page
    assert login(office, "zhaopin").status_code == 302
    [entry] = _entries(app, "login_address.unlocked")
    assert (entry.actor_id, entry.data) == (admin_id, {"address": "203.0.113.7",
                                                       "was_locked": True})


# WeChat binding -------------------------------------------------------------------------------

def test_an_admin_sees_and_removes_the_wechat_binding(app, make_user, login):
    bound_at = utcnow()
    user_id = make_user(wechat_openid="oa-openid-zhaopin", wechat_bound_at=bound_at)
    factories.wechat_account(app, "oa-openid-zhaopin", wechat_app=WechatApp.OFFICIAL_ACCOUNT,
                             hr_user_id=user_id)
    admin, admin_id = _admin(app, make_user, login)
    page = _text(admin.get("/console/users"))
    assert "已绑定" in page and f'action="/console/users/{user_id}/unbind-wechat"' in page
    _post(admin, f"/console/users/{user_id}/unbind-wechat")
    page = _text(admin.get("/console/users"))
    assert "已解除微信绑定" in page
    assert f'action="/console/users/{user_id}/unbind-wechat"' not in page
    user = _user(app, "zhaopin")
    assert user.wechat_openid is None and user.wechat_bound_at is None
    with app.app_context():  # HR messages no longer reach that WeChat user
        assert db.session.scalars(select(WechatAccount.hr_user_id)).all() == [None]
    [entry] = _entries(app, "hr_user.wechat_unbound")
    assert entry.actor_id == admin_id
    assert entry.data["before"]["wechat_bound"] is True
    assert entry.data["after"] == {"wechat_bound": False, "wechat_bound_at": None}


# Access ---------------------------------------------------------------------------------------

ROUTES = [("get", "/console/users"), ("get", "/console/users/new"),
          ("post", "/console/users/new"), ("get", "/console/users/{id}/edit"),
          ("post", "/console/users/{id}/edit"), ("get", "/console/users/{id}/reset-password"),
          ("post", "/console/users/{id}/reset-password"), ("post", "/console/users/{id}/unlock"),
          ("post", "/console/users/{id}/disable"), ("post", "/console/users/{id}/enable"),
          ("post", "/console/users/{id}/unbind-wechat"),
          ("post", "/console/users/addresses/unlock")]


@pytest.mark.parametrize("role", [Role.RECRUITING_MANAGER, Role.RECRUITING_SPECIALIST,
                                  Role.INTERVIEWER])
@pytest.mark.parametrize("method,path", ROUTES)
def test_only_admins_reach_every_user_route(app, make_user, login, role, method, path):
    target = make_user(username="target")
    make_user(username="other", role=role)
    other = app.test_client()
    assert login(other, "other").status_code == 302
    token = factories.csrf_token(other, "/console/interviews")
    url = path.format(id=target)
    response = (other.get(url) if method == "get" else
                other.post(url, data={"csrf_token": token, "display_name": "x",
                                      "role": "admin", "username": "x", "address": "1.2.3.4"}))
    assert response.status_code == 403
    assert _user(app, "target").active and _user(app, "other").role == role


@pytest.mark.parametrize("path", [p for m, p in ROUTES if m == "post"])
def test_every_user_change_needs_the_csrf_token(app, make_user, login, path):
    target = make_user(username="target")
    admin, _ = _admin(app, make_user, login)
    response = admin.post(path.format(id=target), data={
        "display_name": "x", "role": "interviewer", "username": "newone",
        "address": "1.2.3.4", "password_mode": "generate"})
    assert response.status_code == 400
    user = _user(app, "target")
    assert user.active and user.role == Role.RECRUITING_SPECIALIST
    with app.app_context():
        changes = [a for a in db.session.scalars(select(AuditEntry.action))
                   if not a.startswith("hr_user.sign")]  # sign-ins are audited too
        assert changes == []
        assert db.session.scalars(select(HrUser).where(HrUser.username == "newone")).all() == []


def test_the_services_check_the_permission_themselves(app, make_user):
    user_id = make_user()
    manager_id = make_user(username="jingli", role=Role.RECRUITING_MANAGER)
    with app.app_context():
        for call in (lambda: accounts.enable_user(user_id, actor_id=manager_id),
                     lambda: accounts.unbind_wechat(user_id, actor_id=manager_id),
                     lambda: accounts.unlock_address("1.2.3.4", actor_id=manager_id),
                     lambda: accounts.update_user(user_id, actor_id=manager_id,
                                                  display_name="x", role="admin",
                                                  email=None, departments=()),
                     lambda: accounts.create_user(username="x1", display_name="x",
                                                  role="admin", password=NEW,
                                                  actor_id=manager_id)):
            with pytest.raises(Forbidden):
                call()


def test_the_settings_hub_links_to_users(app, make_user, login):
    admin, _ = _admin(app, make_user, login)
    page = _text(admin.get("/console/settings"))
    assert 'href="/console/users"' in page and "微信绑定" in page


# flask create-user ----------------------------------------------------------------------------

def test_create_user_with_password_option(app, runner):
    result = runner.invoke(args=["create-user", "admin2", "--name", "管理员", "--role", "admin",
                                 "--department", "技术部", "--password", NEW])
    assert result.exit_code == 0, result.output
    assert "created admin2 (admin)" in result.output
    user = _user(app, "admin2")
    assert user.role == Role.ADMIN and not user.must_change_password
    assert user.departments == ["技术部"]
    with app.app_context():
        assert db.session.get(HrUser, user.id).check_password(NEW)
    [entry] = _entries(app, "hr_user.created")
    assert entry.actor_type == "system" and NEW not in json.dumps(entry.data)


def test_create_user_with_password_stdin(app, runner):
    result = runner.invoke(args=["create-user", "admin3", "--name", "管理员", "--role", "admin",
                                 "--password-stdin"], input=NEW + "\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalars(select(HrUser).where(HrUser.username == "admin3")).one()
        assert user.check_password(NEW)


@pytest.mark.parametrize("args,message", [
    (["--password", "short"], "密码至少10位"),
    (["--password", "no-digits-at-all"], "密码需同时包含字母和数字"),
    (["--password", NEW, "--password-stdin"], "not both"),
])
def test_create_user_validates_like_the_console(app, runner, args, message):
    result = runner.invoke(args=["create-user", "admin4", "--name", "管理员", "--role", "admin",
                                 *args])
    assert result.exit_code != 0 and message in result.output
    with app.app_context():
        assert db.session.scalars(select(HrUser)).all() == []


def test_create_user_refuses_a_taken_username(app, runner, make_user):
    make_user(username="admin5")
    result = runner.invoke(args=["create-user", "ADMIN5", "--name", "x", "--role", "admin",
                                 "--password", NEW])
    assert result.exit_code == 1 and "用户名已存在 (username_taken)" in result.output


def test_password_rules_in_one_place():
    with pytest.raises(ValidationFailed) as info:
        passwords.check("a" * 129 + "1")
    assert info.value.code == "password_too_long"
    for _ in range(20):
        passwords.check(passwords.generate(), username="anyone")
