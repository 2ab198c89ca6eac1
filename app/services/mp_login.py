"""Mini-program login: wx.login code -> code2session -> our own opaque session token."""
from __future__ import annotations

import json
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from wechatpy.exceptions import WeChatClientException

from app.errors import AppError, ServiceUnavailable
from app.extensions import db, redis_store
from app.models import Candidate, WechatAccount, WechatApp
from app.security import crypto
from app.timeutil import utcnow
from app.wechat.client import WeChatUnavailable, code_to_session


class LoginCodeInvalid(AppError):
    status = 401
    code = "login_code_invalid"
    message = "登录凭证无效或已使用，请重新登录"


class LoginRateLimited(AppError):
    status = 429
    code = "login_rate_limited"
    message = "登录过于频繁，请稍后再试"


class LoginBlocked(AppError):
    status = 403
    code = "login_blocked"
    message = "微信判定当前账号存在风险，暂时无法登录"


@dataclass
class MpSession:
    token: str
    expires_in: int
    account_id: int
    candidate: Candidate | None


def login(code: str) -> MpSession:
    """Exchange a wx.login code for a session of ours; session_key stays server side."""
    try:
        result = code_to_session(code)
    except WeChatClientException as exc:
        if exc.errcode in (40029, 40163):
            raise LoginCodeInvalid() from None
        if exc.errcode == 45011:
            raise LoginRateLimited(headers={"Retry-After": "60"}) from None
        if exc.errcode == 40226:
            raise LoginBlocked() from None
        current_app.logger.warning("code2session failed with errcode %s", exc.errcode)
        raise ServiceUnavailable("微信登录服务暂时不可用，请稍后再试") from None
    except WeChatUnavailable:
        raise ServiceUnavailable("微信登录服务暂时不可用，请稍后再试") from None

    openid = result["openid"]
    account = db.session.scalars(select(WechatAccount).where(
        WechatAccount.app == WechatApp.MINI_PROGRAM, WechatAccount.openid == openid)).first()
    if account is None:
        account = WechatAccount(app=WechatApp.MINI_PROGRAM, openid=openid)
        db.session.add(account)
    account.unionid = result.get("unionid") or account.unionid
    account.session_key_encrypted = crypto.encrypt(result["session_key"])
    account.last_login_at = utcnow()
    db.session.commit()

    token, ttl = issue_session(account.id)
    return MpSession(token, ttl, account.id, account.candidate)


def issue_session(account_id: int) -> tuple[str, int]:
    """A new opaque bearer token for this WeChat account; only its hash is stored."""
    token = crypto.new_token(32)
    ttl = current_app.config["SESSION_TOKEN_TTL"]
    redis_store.client.set(_session_key(token), json.dumps({"account_id": account_id}), ex=ttl)
    return token, ttl


def _session_key(token: str) -> str:
    return redis_store.key("mp-session", crypto.token_hash(token))


def resolve_session(token: str) -> WechatAccount | None:
    """The WeChat account behind a bearer token, or None when unknown/expired/revoked."""
    raw = redis_store.client.get(_session_key(token))
    if raw is None:
        return None
    return db.session.get(WechatAccount, json.loads(raw)["account_id"])


def logout(token: str) -> None:
    redis_store.client.delete(_session_key(token))
