"""HR user administration: create, disable, passwords, login unlock.

Every change that takes access away (disabling, a new password) ends the user's console
sessions at once (console_sessions.revoke_user): before the commit, so no session acts on
the old state once it is gone, and after it, for a login that came in between.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.models import HrUser, Role
from app.services import audit
from app.services.users import console_sessions, login_throttle

MIN_PASSWORD_LENGTH = 10


class UserNotFound(NotFound):
    code = "hr_user_not_found"
    message = "未找到该用户"


class CurrentPasswordWrong(ValidationFailed):
    code = "current_password_wrong"
    message = "当前密码不正确"


@dataclass(frozen=True)
class UserRow:
    user: HrUser
    locked_seconds: int  # 0: login not locked


@dataclass(frozen=True)
class PasswordChanged:
    session_id: str  # the session that goes on (a new one: the old id ends with the others)
    revoked: int


def create_user(*, username: str, display_name: str, role: str, password: str,
                email: str | None = None) -> HrUser:
    """Create an HR user; usernames are unique, passwords at least 10 characters."""
    _check_new_password(password)
    if db.session.scalars(select(HrUser).where(HrUser.username == username)).first():
        raise Conflict("用户名已存在", code="username_taken")
    user = HrUser(username=username, display_name=display_name, role=Role(role), email=email,
                  active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def list_users(*, actor_id: int) -> list[UserRow]:
    """Every HR user with their role and whether their login is locked (admins only)."""
    _administrator(actor_id)
    users = db.session.scalars(select(HrUser).order_by(HrUser.username)).all()
    locked = login_throttle.locked_seconds([u.username for u in users])
    return [UserRow(u, locked.get(u.username, 0)) for u in users]


def unlock_login(user_id: int, *, actor_id: int) -> bool:
    """An admin lifts a login lock (too many failed logins) before it runs out. Returns
    whether the login was locked."""
    actor = _administrator(actor_id)
    user = _user(user_id)
    was_locked = login_throttle.clear_account(user.username)
    audit.record(actor_type="hr", actor_id=actor.id, action="hr_user.login_unlocked",
                 object_type="hr_user", object_id=user.id, data={"was_locked": was_locked})
    db.session.commit()
    return was_locked


def disable_user(user_id: int, *, actor_id: int) -> int:
    """An admin disables an HR user: they cannot log in, and every session of theirs ends
    now. Admins cannot disable themselves. Returns how many sessions were ended."""
    actor = _administrator(actor_id)
    user = _user(user_id)
    if user.id == actor.id:
        raise Conflict("不能停用自己的账号", code="cannot_disable_self")
    if not user.active:
        return 0
    user.active = False
    audit.record(actor_type="hr", actor_id=actor.id, action="hr_user.disabled",
                 object_type="hr_user", object_id=user.id)
    revoked = console_sessions.revoke_user(user.id)
    db.session.commit()
    return revoked + console_sessions.revoke_user(user.id)


def reset_password(user_id: int, new_password: str, *, actor_id: int) -> int:
    """An admin sets a new password for an HR user (a forgotten or leaked one); every
    session of that user ends. Returns how many sessions were ended."""
    actor = _administrator(actor_id)
    user = _user(user_id)
    _check_new_password(new_password)
    user.set_password(new_password)
    audit.record(actor_type="hr", actor_id=actor.id, action="hr_user.password_reset",
                 object_type="hr_user", object_id=user.id)
    revoked = console_sessions.revoke_user(user.id)
    db.session.commit()
    return revoked + console_sessions.revoke_user(user.id)


def change_password(user_id: int, *, current_password: str,
                    new_password: str, ip: str | None = None) -> PasswordChanged:
    """A user changes their own password, proving the current one. Their other sessions
    end; the one they are using goes on under a new session id."""
    user = _user(user_id)
    if not user.active:
        raise Forbidden()
    if not user.check_password(current_password):
        raise CurrentPasswordWrong(details={"field": "current_password"})
    _check_new_password(new_password)
    if new_password == current_password:
        raise ValidationFailed("新密码不能与当前密码相同", code="password_unchanged",
                               details={"field": "new_password"})
    user.set_password(new_password)
    audit.record(actor_type="hr", actor_id=user.id, action="hr_user.password_changed",
                 object_type="hr_user", object_id=user.id, ip=ip)
    revoked = console_sessions.revoke_user(user.id)
    db.session.commit()
    revoked += console_sessions.revoke_user(user.id)
    return PasswordChanged(console_sessions.start(user.id, user.password_hash), revoked)


def _administrator(actor_id: int) -> HrUser:
    actor = db.session.get(HrUser, actor_id)
    if actor is None or not actor.active or not actor.can("users"):
        raise Forbidden()
    return actor


def _user(user_id: int) -> HrUser:
    user = db.session.get(HrUser, user_id)
    if user is None:
        raise UserNotFound()
    return user


def _check_new_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("密码至少10位", code="password_too_short",
                               details={"field": "password"})
