"""Console sign-in from WeChat: the Official Account openid (web OAuth) of a bound HR user.

The mobile console (app.console.m) opens without a password: WeChat's OAuth says which
OA user is in its browser, and hr_users.wechat_openid says which HR user that is. From
there it is the console's own session (app.services.users.console_sessions), the same
record a password login opens, so logout, revocation, timeouts and the password stamp
work unchanged.

Traps:
- Who an openid is: app.services.users.wechat_binding.bound_user, the one rule the
  Official Account's menu and commands use too (hr_users.wechat_openid, written by the
  binding code or QR scene, and the OA identity linked to the user). An openid nobody
  bound opens nothing, and the answer says how to bind, never whose it is.
- bound_user ignores a disabled user's binding; to say "disabled" rather than "unbound"
  (and audit it as a refused login, as the password login does) the owner is looked up.
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
from app.services.users import console_sessions, signin, wechat_binding

log = logging.getLogger(__name__)


class WechatNotBound(AppError):
    status = 403
    code = "wechat_not_bound"
    message = "您的微信尚未绑定后台账号"


def _disabled_owner(openid: str) -> HrUser | None:
    return db.session.scalar(select(HrUser).where(HrUser.wechat_openid == openid,
                                                  HrUser.active.is_(False)))


def sign_in_with_openid(openid: str, *, ip: str) -> signin.SignedIn:
    """Open a console session for the active HR user bound to this OA openid.
    Raises WechatNotBound or signin.AccountDisabled."""
    user = wechat_binding.bound_user(openid)
    if user is None:
        disabled = _disabled_owner(openid) if openid else None
        if disabled is not None:
            log.warning("wechat sign-in refused (disabled) user_id=%s", disabled.id)
            signin._audit_refused(disabled.username, disabled.id, ip, "account_disabled")
            raise signin.AccountDisabled()
        log.warning("wechat sign-in refused: openid not bound ip=%s", ip)
        raise WechatNotBound()
    session_id = console_sessions.start(user.id, user.password_hash)
    audit.record(actor_type="hr", actor_id=user.id, action="hr_user.signed_in_wechat",
                 object_type="hr_user", object_id=user.id, ip=ip)
    db.session.commit()
    log.info("console login via wechat user_id=%s", user.id)
    return signin.SignedIn(user, session_id)
