"""Console sign-in from WeChat: the Official Account openid (web OAuth) of a bound HR user.

The mobile console (app.console.m) opens without a password: WeChat's OAuth says which
OA user is in its browser, and hr_users.wechat_openid says which HR user that is. From
there it is the console's own session (app.services.users.console_sessions), the same
record a password login opens, so logout, revocation, timeouts and the password stamp
work unchanged.

Traps:
- Only hr_users.wechat_openid binds (written by the binding code or QR scene); an openid
  nobody bound opens nothing, and the answer says how to bind, never whose it is.
- A disabled user is refused as at the password login (and audited the same way).
- A user who must change the password still gets a session: the console sends every
  request of it to 修改密码 first (app.console.auth.password_change_first), which asks
  for the current (temporary) password, so WeChat alone does not get around the reset.
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from app.core.errors import AppError
from app.extensions import db
from app.models import HrUser
from app.services import audit
from app.services.users import console_sessions, signin

log = logging.getLogger(__name__)


class WechatNotBound(AppError):
    status = 403
    code = "wechat_not_bound"
    message = "您的微信尚未绑定后台账号"


def bound_user(openid: str) -> HrUser | None:
    """The HR user this Official Account openid is bound to (active or not)."""
    if not openid:
        return None
    return db.session.scalar(select(HrUser).where(HrUser.wechat_openid == openid))


def sign_in_with_openid(openid: str, *, ip: str) -> signin.SignedIn:
    """Open a console session for the active HR user bound to this OA openid.
    Raises WechatNotBound or signin.AccountDisabled."""
    user = bound_user(openid)
    if user is None:
        log.warning("wechat sign-in refused: openid not bound ip=%s", ip)
        raise WechatNotBound()
    if not user.active:
        log.warning("wechat sign-in refused (disabled) user_id=%s", user.id)
        signin._audit_refused(user.username, user.id, ip, "account_disabled")
        raise signin.AccountDisabled()
    session_id = console_sessions.start(user.id, user.password_hash)
    audit.record(actor_type="hr", actor_id=user.id, action="hr_user.signed_in_wechat",
                 object_type="hr_user", object_id=user.id, ip=ip)
    db.session.commit()
    log.info("console login via wechat user_id=%s", user.id)
    return signin.SignedIn(user, session_id)
