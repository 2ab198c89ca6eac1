"""Mobile console sign-in: WeChat's web OAuth (snsapi_base) instead of a password.

/console/m/ (the entry the Official Account menu and messages open) sends a browser
without a console session to WeChat's authorize page; WeChat comes back to
/console/m/oauth/callback with a code and our state; the code gives the OA openid, the
openid the bound HR user, and the console's own login (auth._start_session) the session.

Traps:
- `state` is random, kept in this browser's session cookie, used once (popped before
  anything else) and short-lived (WECHAT_OAUTH_STATE_SECONDS): a callback URL carried to
  another browser, replayed, or forged opens nothing. The session is a signed cookie, so
  an old copy of it still holds a spent state: what stops that replay is the code, which
  WeChat takes once (40163).
- The callback URL carries a code: it is never echoed back, and a failed exchange
  starts over from the entry rather than retrying the code (single use at WeChat).
- `next` is only ever a mobile console path (no open redirect through the entry).
- The console's password_change_first hook still applies: a user whose password was reset
  lands on 修改密码 after signing in.
"""
from __future__ import annotations

import hmac
import logging
import secrets
import time
from functools import wraps

from flask import (
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from wechatpy.exceptions import WeChatClientException

from app.console.auth import _start_session, safe_next
from app.console.m import bp
from app.services.users import signin, wechat_signin
from app.wechat import oauth
from app.wechat.client import WeChatUnavailable

log = logging.getLogger(__name__)

STATE_FIELD = "m_oauth"  # the Flask session field holding the pending OAuth state
MOBILE_PREFIX = "/console/m/"
WECHAT_BUSY = frozenset({-1, 45009, 45011})  # WeChat busy or rate limited: try again later


def mobile_next(target: str | None) -> str | None:
    """A local mobile console path, or None."""
    target = safe_next(target)
    return target if target and target.startswith(MOBILE_PREFIX) else None


def mobile_required(permission: str = "view"):
    """Signed in (else through WeChat's OAuth and back here) with the role permission."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                back = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("console.mobile.entry", next=mobile_next(back)))
            if not current_user.can(permission):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def message_page(title: str, message: str, code: str, status: int, *, retry: bool = True,
                 next_url: str | None = None):
    """A Chinese page for a person, with the stable error code for programs."""
    return render_template("console/m/message.html", title=title, message=message,
                           error_code=code, retry=retry, next_url=next_url), status


def _unavailable(next_url: str | None):
    return message_page("暂时无法连接微信", "暂时无法连接微信，请稍后重试。",
                        "wechat_unavailable", 503, next_url=next_url)


@bp.get("/")
def entry():
    """Signed in: the page asked for (or 待我审批). Else: WeChat's authorize page."""
    next_url = mobile_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("console.mobile.approvals"))
    oauth_state = secrets.token_hex(16)
    session[STATE_FIELD] = {
        "state": oauth_state, "next": next_url,
        "until": time.time() + int(current_app.config["WECHAT_OAUTH_STATE_SECONDS"])}
    redirect_uri = (current_app.config["PUBLIC_BASE_URL"].rstrip("/")
                    + url_for("console.mobile.oauth_callback"))
    return redirect(oauth.authorize_url(redirect_uri, oauth_state))


@bp.get("/oauth/callback")
def oauth_callback():
    """WeChat's redirect back: check the state, exchange the code, open the session."""
    pending = session.pop(STATE_FIELD, None)  # single use, whatever happens next
    given = request.args.get("state", "")
    if not isinstance(pending, dict) or not hmac.compare_digest(
            str(pending.get("state", "")).encode(), given.encode()) \
            or time.time() > float(pending.get("until", 0)):
        log.warning("mobile oauth refused: state missing, wrong, used or expired")
        return message_page("链接已失效",
                            "登录链接已失效或已使用，请从公众号菜单重新打开移动后台。",
                            "oauth_state_invalid", 400)
    next_url = mobile_next(pending.get("next"))
    code = request.args.get("code", "")
    if not code or len(code) > 512:
        return message_page("未获得微信授权", "未获得微信授权，请在微信中重新打开移动后台。",
                            "oauth_code_missing", 400, next_url=next_url)
    try:
        openid = oauth.openid_for_code(code)
    except WeChatClientException as exc:
        log.warning("mobile oauth code refused by wechat errcode=%s", exc.errcode)
        if exc.errcode not in WECHAT_BUSY:
            return message_page("微信授权已失效", "微信授权已失效，请重新打开移动后台。",
                                "oauth_code_invalid", 400, next_url=next_url)
        return _unavailable(next_url)
    except WeChatUnavailable as exc:
        log.warning("mobile oauth: wechat unavailable (%s)", exc)
        return _unavailable(next_url)
    try:
        signed_in = wechat_signin.sign_in_with_openid(openid, ip=request.remote_addr or "unknown")
    except wechat_signin.WechatNotBound as exc:
        return render_template("console/m/unbound.html", error_code=exc.code), exc.status
    except signin.AccountDisabled as exc:
        return message_page("账号已停用", exc.message, exc.code, 403, retry=False)
    _start_session(signed_in.user, signed_in.session_id)
    target = next_url or url_for("console.mobile.approvals")
    if signed_in.must_change_password:
        return redirect(url_for("console.change_password", next=target))
    return redirect(target)
