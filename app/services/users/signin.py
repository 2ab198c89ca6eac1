"""Console sign-in and sign-out: password check, throttling, the server-side session."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.core.errors import AppError
from app.extensions import db
from app.models import HrUser
from app.services import audit
from app.services.users import console_sessions, login_throttle

log = logging.getLogger(__name__)

# Checked when the username is unknown, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class SignInRefused(AppError):
    status = 401
    code = "sign_in_refused"


class InvalidCredentials(SignInRefused):
    code = "invalid_credentials"
    message = "用户名或密码错误"


class AccountDisabled(SignInRefused):
    code = "account_disabled"
    message = "该账号已停用，请联系系统管理员"


class SignInLocked(SignInRefused):
    status = 429
    code = "sign_in_locked"

    def __init__(self, minutes: int):
        super().__init__(f"登录失败次数过多，请{minutes}分钟后再试或联系管理员解锁")


@dataclass(frozen=True)
class SignedIn:
    user: HrUser
    session_id: str

    @property
    def must_change_password(self) -> bool:
        return password_change_pending(self.user)


def password_change_pending(user: HrUser) -> bool:
    """After an admin reset (or created) the password, the user must choose a new one
    before anything else in the console: the login goes to the password page, and every
    other console request is sent there until it is done (app.console.auth)."""
    return bool(user.must_change_password)


def sign_in(username: str, password: str, *, ip: str) -> SignedIn:
    """Check a console login and open a server-side session. Repeated failures lock the
    username and the address for a while (login_throttle); a locked login is refused
    before its password is looked at, with the same message whether the username
    exists or not."""
    username = username.strip()
    attempt = login_throttle.begin_attempt(username, ip)
    if attempt is None:
        log.warning("console login refused (locked) username=%r ip=%s", username[:64], ip)
        _audit_refused(username, None, ip, "locked")
        raise SignInLocked(login_throttle.lock_minutes())
    user = db.session.scalar(select(HrUser).where(HrUser.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
    if user is None or not user.check_password(password):
        log.warning("console login refused username=%r ip=%s locked=%s", username[:64], ip,
                    attempt.locked)
        _audit_refused(username, user.id if user else None, ip,
                       "locked" if attempt.locked else "invalid_credentials")
        if attempt.locked:
            raise SignInLocked(login_throttle.lock_minutes())
        raise InvalidCredentials()
    login_throttle.succeeded(attempt)  # the right password is no failure, even if disabled
    if not user.active:
        log.warning("console login refused (disabled) user_id=%s", user.id)
        _audit_refused(username, user.id, ip, "account_disabled")
        raise AccountDisabled()
    session_id = console_sessions.start(user.id, user.password_hash)
    audit.record(actor_type="hr", actor_id=user.id, action="hr_user.signed_in",
                 object_type="hr_user", object_id=user.id, ip=ip)
    db.session.commit()
    log.info("console login user_id=%s", user.id)
    return SignedIn(user, session_id)


def _audit_refused(username: str, user_id: int | None, ip: str, why: str) -> None:
    """A refused console login, in the audit log (the username as typed, never the
    password)."""
    audit.record(actor_type="hr", actor_id=user_id, action="hr_user.sign_in_failed",
                 object_type="hr_user", object_id=user_id, ip=ip,
                 data={"username": username[:64], "refused": why})
    db.session.commit()


def sign_out(session_id: str | None, user_id: int, *, ip: str | None = None) -> None:
    """End this session on the server: a copy of its cookie opens nothing afterwards."""
    console_sessions.end(session_id, user_id)
    audit.record(actor_type="hr", actor_id=user_id, action="hr_user.signed_out",
                 object_type="hr_user", object_id=user_id, ip=ip)
    db.session.commit()
    log.info("console logout user_id=%s", user_id)


def session_user(session_id: str | None, user_id: int) -> HrUser | None:
    """The user a console session belongs to, while that session stands: not logged out
    or revoked, used within the idle timeout, younger than the maximum age, opened with
    the user's current password, and the user active."""
    stamp = console_sessions.check(session_id, user_id)
    if stamp is None:
        return None
    user = db.session.get(HrUser, user_id)
    if user is None or not user.active:
        return None
    if stamp != console_sessions.password_stamp(user.password_hash):
        console_sessions.end(session_id, user_id)
        return None
    return user
