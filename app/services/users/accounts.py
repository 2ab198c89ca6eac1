"""HR user administration: create, edit role and departments, disable and enable,
passwords, login unlock (per user and per address), the WeChat binding.

Every change that takes access away (disabling, a new password) ends the user's console
sessions at once (console_sessions.revoke_user): before the commit, so no session acts on
the old state once it is gone, and after it, for a login that came in between.

Guard rails: an admin cannot disable or demote themselves, and nobody can disable or
demote the last active admin (the active admins are locked FOR UPDATE on PostgreSQL while
this is checked, so two admins demoting each other at once cannot both succeed).
Audit entries carry {"before", "after"} of what changed, never a password or its hash.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, update

from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.timeutil import iso
from app.extensions import db
from app.models import HrUser, Position, Role, WechatAccount, WechatApp
from app.models.hr import HrUserDepartment
from app.services import audit
from app.services.users import console_sessions, login_throttle, passwords

MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UserNotFound(NotFound):
    code = "hr_user_not_found"
    message = "未找到该用户"


class CurrentPasswordWrong(ValidationFailed):
    code = "current_password_wrong"
    message = "当前密码不正确"


@dataclass(frozen=True)
class Binding:
    openid: str
    bound_at: datetime | None


@dataclass(frozen=True)
class UserRow:
    user: HrUser
    locked_seconds: int  # 0: login not locked
    binding: Binding | None = None


@dataclass(frozen=True)
class PasswordChanged:
    session_id: str  # the session that goes on (a new one: the old id ends with the others)
    revoked: int


@dataclass(frozen=True)
class NewUser:
    user: HrUser
    password: str | None  # the generated password (shown once), None when one was given


@dataclass(frozen=True)
class PasswordReset:
    password: str | None  # the generated password (shown once), None when the admin typed it
    revoked: int


# --- reading -----------------------------------------------------------------------------

def list_users(*, actor_id: int) -> list[UserRow]:
    """Every HR user with their role, whether their login is locked and their WeChat
    binding (admins only)."""
    _administrator(actor_id)
    users = db.session.scalars(select(HrUser).order_by(HrUser.username)).all()
    locked = login_throttle.locked_seconds([u.username for u in users])
    bindings = _bindings([u.id for u in users])
    return [UserRow(u, locked.get(u.username, 0), _binding_of(u, bindings))
            for u in users]


def get_user(user_id: int, *, actor_id: int) -> UserRow:
    """One HR user as list_users shows them (admins only)."""
    _administrator(actor_id)
    user = _user(user_id)
    locked = login_throttle.locked_seconds([user.username])
    return UserRow(user, locked.get(user.username, 0), _binding_of(user, _bindings([user.id])))


def locked_addresses(*, actor_id: int) -> dict[str, int]:
    """Client addresses whose console logins are locked, with the seconds left (admins)."""
    _administrator(actor_id)
    return login_throttle.locked_addresses()


def department_choices(*, actor_id: int) -> list[str]:
    """The department names in use (positions carry them; users may already have them)."""
    _administrator(actor_id)
    names = set(db.session.scalars(select(Position.department).distinct()))
    names.update(db.session.scalars(select(HrUserDepartment.department).distinct()))
    return sorted(n for n in names if n)


# --- creating and editing ----------------------------------------------------------------

def create_user(*, username: str, display_name: str, role: str, password: str,
                email: str | None = None, departments=(), actor_id: int | None = None,
                must_change_password: bool = False, ip: str | None = None) -> HrUser:
    """Create an HR user: usernames unique (letters, digits . _ -), the password rules of
    passwords.check. With an actor (the console) the admin is checked and the entry names
    them; without one it is a command (`flask create-user`, `flask setup`)."""
    actor = _administrator(actor_id) if actor_id is not None else None
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise ValidationFailed("用户名需为2到64位字母、数字或 . _ -，并以字母或数字开头",
                               code="invalid_username", details={"field": "username"})
    values = _checked_profile(display_name=display_name, role=role, email=email,
                              departments=departments)
    passwords.check(password, username=username)
    if db.session.scalar(select(HrUser.id).where(
            func.lower(HrUser.username) == username.lower())) is not None:
        raise Conflict("用户名已存在", code="username_taken", details={"field": "username"})
    user = HrUser(username=username, display_name=values["display_name"],
                  role=Role(values["role"]), email=values["email"], active=True,
                  must_change_password=must_change_password)
    user.departments = values["departments"]
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(actor_type="hr" if actor else "system", actor_id=actor.id if actor else None,
                 action="hr_user.created", object_type="hr_user", object_id=user.id, ip=ip,
                 data={"before": None, "after": {"username": username, **values,
                                                 "must_change_password":
                                                     must_change_password}})
    db.session.commit()
    return user


def create_user_with_generated_password(**fields) -> NewUser:
    """create_user with a generated initial password, returned to be shown once."""
    password = passwords.generate()
    return NewUser(create_user(password=password, **fields), password)


def update_user(user_id: int, *, actor_id: int, display_name: str, role: str,
                email: str | None, departments, ip: str | None = None) -> bool:
    """An admin changes a user's name, role, e-mail and departments. Nobody demotes
    themselves or the last active admin. Returns whether anything changed."""
    actor = _administrator(actor_id)
    user = _user(user_id)
    values = _checked_profile(display_name=display_name, role=role, email=email,
                              departments=departments)
    before = _profile(user)
    if user.role == Role.ADMIN and values["role"] != Role.ADMIN.value:
        if user.id == actor.id:
            raise Conflict("不能取消自己的系统管理员角色", code="cannot_demote_self")
        _keep_an_admin(user)
    user.display_name = values["display_name"]
    user.role = Role(values["role"])
    user.email = values["email"]
    if values["departments"] != before["departments"]:
        user.departments = values["departments"]
    after = _profile(user)
    if after == before:
        db.session.rollback()
        return False
    changed = [k for k in after if after[k] != before[k]]
    audit.record(actor_type="hr", actor_id=actor.id, action="hr_user.updated",
                 object_type="hr_user", object_id=user.id, ip=ip,
                 data={"before": {k: before[k] for k in changed},
                       "after": {k: after[k] for k in changed}})
    db.session.commit()
    return True


# --- access ------------------------------------------------------------------------------

def disable_user(user_id: int, *, actor_id: int, ip: str | None = None) -> int:
    """An admin disables an HR user: they cannot log in, and every session of theirs ends
    now. Admins cannot disable themselves nor the last active admin. Returns how many
    sessions were ended."""
    actor = _administrator(actor_id)
    user = _user(user_id)
    if user.id == actor.id:
        raise Conflict("不能停用自己的账号", code="cannot_disable_self")
    if not user.active:
        return 0
    if user.role == Role.ADMIN:
        _keep_an_admin(user)
    user.active = False
    audit.record(actor_type="hr", actor_id=actor.id, action="hr_user.disabled",
                 object_type="hr_user", object_id=user.id, ip=ip,
                 data={"before": {"active": True}, "after": {"active": False}})
    revoked = console_sessions.revoke_user(user.id)
    db.session.commit()
    return revoked + console_sessions.revoke_user(user.id)


def enable_user(user_id: int, *, actor_id: int, ip: str | None = None) -> bool:
    """An admin enables a disabled HR user again. Returns whether they were disabled."""
    actor = _administrator(actor_id)
    user = _user(user_id)
    if user.active:
        return False
    user.active = True
    audit.record(actor_type="hr", actor_id=actor.id, action="hr_user.enabled",
                 object_type="hr_user", object_id=user.id, ip=ip,
                 data={"before": {"active": False}, "after": {"active": True}})
    db.session.commit()
    return True


def reset_password(user_id: int, new_password: str | None = None, *, actor_id: int,
                   ip: str | None = None) -> PasswordReset:
    """An admin sets a temporary password for an HR user (typed, or generated and shown
    once); the user must choose a new one at their next sign-in, and every session of
    theirs ends now."""
    actor = _administrator(actor_id)
    user = _user(user_id)
    generated = passwords.generate() if not new_password else None
    password = generated or passwords.check(new_password, username=user.username)
    user.set_password(password)
    was_forced = bool(user.must_change_password)
    user.must_change_password = True
    audit.record(actor_type="hr", actor_id=actor.id, action="hr_user.password_reset",
                 object_type="hr_user", object_id=user.id, ip=ip,
                 data={"before": {"must_change_password": was_forced},
                       "after": {"must_change_password": True},
                       "generated": generated is not None})
    revoked = console_sessions.revoke_user(user.id)
    db.session.commit()
    return PasswordReset(generated, revoked + console_sessions.revoke_user(user.id))


def change_password(user_id: int, *, current_password: str,
                    new_password: str, ip: str | None = None) -> PasswordChanged:
    """A user changes their own password, proving the current one (also the way out of a
    reset: it clears must_change_password). Their other sessions end; the one they are
    using goes on under a new session id."""
    user = _user(user_id)
    if not user.active:
        raise Forbidden()
    if not user.check_password(current_password):
        raise CurrentPasswordWrong(details={"field": "current_password"})
    passwords.check(new_password, username=user.username, field="new_password")
    if new_password == current_password:
        raise ValidationFailed("新密码不能与当前密码相同", code="password_unchanged",
                               details={"field": "new_password"})
    user.set_password(new_password)
    was_forced = bool(user.must_change_password)
    user.must_change_password = False
    audit.record(actor_type="hr", actor_id=user.id, action="hr_user.password_changed",
                 object_type="hr_user", object_id=user.id, ip=ip,
                 data={"before": {"must_change_password": True},
                       "after": {"must_change_password": False}} if was_forced else None)
    revoked = console_sessions.revoke_user(user.id)
    db.session.commit()
    revoked += console_sessions.revoke_user(user.id)
    return PasswordChanged(console_sessions.start(user.id, user.password_hash), revoked)


def unlock_login(user_id: int, *, actor_id: int, ip: str | None = None) -> bool:
    """An admin lifts a login lock (too many failed logins) before it runs out. Returns
    whether the login was locked."""
    actor = _administrator(actor_id)
    user = _user(user_id)
    was_locked = login_throttle.clear_account(user.username)
    audit.record(actor_type="hr", actor_id=actor.id, action="hr_user.login_unlocked",
                 object_type="hr_user", object_id=user.id, data={"was_locked": was_locked},
                 ip=ip)
    db.session.commit()
    return was_locked


def unlock_address(address: str, *, actor_id: int, ip: str | None = None) -> bool:
    """An admin lifts the lock of a client address (too many failed logins from it, e.g.
    an office's shared NAT address). Returns whether it was locked."""
    actor = _administrator(actor_id)
    address = (address or "").strip()
    if not address or len(address) > 64:
        raise ValidationFailed("请提供要解锁的IP地址", code="invalid_address",
                               details={"field": "address"})
    was_locked = login_throttle.clear_address(address)
    audit.record(actor_type="hr", actor_id=actor.id, action="login_address.unlocked",
                 object_type="login_address", object_id=None, ip=ip,
                 data={"address": address, "was_locked": was_locked})
    db.session.commit()
    return was_locked


def unbind_wechat(user_id: int, *, actor_id: int, ip: str | None = None) -> bool:
    """An admin removes a user's WeChat binding (a lost phone, a leaver's account): the
    openid no longer opens the OA pages nor receives HR messages. Returns whether the user
    was bound."""
    actor = _administrator(actor_id)
    user = _user(user_id)
    if not release_wechat_binding(user, actor_id=actor.id, ip=ip):
        return False
    db.session.commit()
    return True


def wechat_binding_of(user: HrUser) -> Binding | None:
    """The user's WeChat binding (the openid and since when), None when not bound."""
    return _binding_of(user, _bindings([user.id]))


def release_wechat_binding(user: HrUser, *, actor_id: int, ip: str | None = None,
                           via: str | None = None) -> bool:
    """Remove a user's WeChat binding and record who did it, in the caller's transaction
    (no commit): an admin in the console (unbind_wechat), the user themselves (`解绑` in the
    Official Account, their binding page) or a new binding taking the openid over
    (app.services.users.wechat_binding). Returns whether the user was bound."""
    binding = _binding_of(user, _bindings([user.id]))
    if binding is None:
        return False
    user.wechat_openid = None
    user.wechat_bound_at = None
    db.session.execute(update(WechatAccount).where(
        WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT, WechatAccount.hr_user_id == user.id)
        .values(hr_user_id=None).execution_options(synchronize_session=False))
    data = {"before": {"wechat_bound": True,
                       "wechat_bound_at": iso(binding.bound_at) if binding.bound_at else None},
            "after": {"wechat_bound": False, "wechat_bound_at": None}}
    if via:
        data["via"] = via
    audit.record(actor_type="hr", actor_id=actor_id, action="hr_user.wechat_unbound",
                 object_type="hr_user", object_id=user.id, ip=ip, data=data)
    return True


# --- helpers -----------------------------------------------------------------------------

def _administrator(actor_id: int | None) -> HrUser:
    actor = db.session.get(HrUser, actor_id) if actor_id is not None else None
    if actor is None or not actor.active or not actor.can("users"):
        raise Forbidden()
    return actor


def _user(user_id: int) -> HrUser:
    user = db.session.get(HrUser, user_id)
    if user is None:
        raise UserNotFound()
    return user


def _keep_an_admin(user: HrUser) -> None:
    """Refuse to take the admin role or access from the last active admin."""
    # Lock every active admin's row, in id order, before counting: two admins disabling
    # each other at once then run one after the other, and the second sees the first's
    # change (PostgreSQL re-checks a locked row's WHERE after the wait) and is refused.
    admins = (select(HrUser.id).where(HrUser.role == Role.ADMIN, HrUser.active.is_(True))
              .order_by(HrUser.id))
    if db.engine.dialect.name == "postgresql":
        admins = admins.with_for_update()
    else:
        # SQLite has no row locks: an UPDATE (of nothing) takes the database's write lock
        # first, so the count below sees what a concurrent change committed.
        db.session.execute(text("UPDATE hr_users SET active = active WHERE 1 = 0"))
    if not [admin_id for admin_id in db.session.scalars(admins) if admin_id != user.id]:
        raise Conflict("这是最后一个启用中的系统管理员，不能停用或取消其管理员角色",
                       code="last_active_admin")


def _checked_profile(*, display_name: str, role: str, email: str | None,
                     departments) -> dict:
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 64:
        raise ValidationFailed("请填写姓名（不超过64个字）", code="invalid_display_name",
                               details={"field": "display_name"})
    role_value = getattr(role, "value", role)
    if role_value not in {r.value for r in Role}:
        raise ValidationFailed("请选择有效的角色", code="invalid_role", details={"field": "role"})
    email = (email or "").strip() or None
    if email is not None and (len(email) > 254 or not EMAIL_RE.match(email)):
        raise ValidationFailed("请填写有效的电子邮箱", code="invalid_email",
                               details={"field": "email"})
    names = list(dict.fromkeys(n.strip() for n in (departments or ()) if n and n.strip()))
    if any(len(n) > 100 for n in names):
        raise ValidationFailed("部门名称不能超过100个字", code="invalid_department",
                               details={"field": "departments"})
    return {"display_name": display_name, "role": role_value, "email": email,
            "departments": sorted(names)}


def _profile(user: HrUser) -> dict:
    return {"display_name": user.display_name, "role": user.role.value, "email": user.email,
            "departments": sorted(user.departments)}


def _bindings(user_ids: list[int]) -> dict[int, WechatAccount]:
    """The Official Account identities linked to these users (the first per user)."""
    if not user_ids:
        return {}
    found: dict[int, WechatAccount] = {}
    for account in db.session.scalars(select(WechatAccount).where(
            WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT,
            WechatAccount.hr_user_id.in_(user_ids)).order_by(WechatAccount.id)):
        found.setdefault(account.hr_user_id, account)
    return found


def _binding_of(user: HrUser, accounts: dict[int, WechatAccount]) -> Binding | None:
    # hr_users.wechat_openid is the binding; an OA identity linked to the user (as the
    # demo data and HR message routing have it) counts as one too.
    if user.wechat_openid:
        return Binding(user.wechat_openid, user.wechat_bound_at)
    account = accounts.get(user.id)
    if account is not None:
        return Binding(account.openid, account.created_at)
    return None
