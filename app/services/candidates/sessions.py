"""Mini-program login: wx.login code -> code2session -> our own opaque session token."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from wechatpy.exceptions import WeChatClientException

from app.core import crypto
from app.core.errors import AppError, ServiceUnavailable
from app.core.timeutil import utcnow
from app.extensions import db, redis_store
from app.models import Candidate, WechatAccount, WechatApp
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


def login(code: str, before_session: Callable[[int], None] | None = None) -> MpSession:
    """Exchange a wx.login code for a session of ours; session_key stays server side.

    `before_session(account_id)` runs once WeChat has named the account and before any
    session exists (the caller's per-account rate limit): if it raises, no session is
    issued."""
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

    if before_session is not None:
        before_session(account.id)
    token, ttl = issue_session(account.id)
    return MpSession(token, ttl, account.id, account.candidate)


@dataclass(frozen=True)
class MpUser:
    """Who is calling the candidate API: read from the session, without a database query
    once the account is bound (a binding never changes except through HR, which revokes
    the account's sessions)."""
    id: int
    openid: str
    candidate_id: int | None


def issue_session(account_id: int) -> tuple[str, int]:
    """A new opaque bearer token for this WeChat account; only its hash is stored. The
    token starts with the account id (not a secret: the id alone opens nothing), so the
    account's rate-limit counter can be read in the same Redis round trip as the session
    (miniprogram_api.auth)."""
    account = db.session.get(WechatAccount, account_id)
    token = f"{account_id}.{crypto.new_token(32)}"
    ttl = current_app.config["SESSION_TOKEN_TTL"]
    token_hash = crypto.token_hash(token)
    index = _account_sessions_key(account_id)
    pipe = redis_store.client.pipeline()
    pipe.set(_session_key_from_hash(token_hash), _payload(account), ex=ttl)
    pipe.sadd(index, token_hash)
    pipe.expire(index, ttl)
    pipe.execute()
    return token, ttl


def token_account_hint(token: str) -> int | None:
    """The account id a token names (None for a malformed or older token). Only a token
    whose session exists proves it."""
    head, dot, _ = token.partition(".")
    return int(head) if dot and head.isdigit() and len(head) < 19 else None


def _payload(account: WechatAccount) -> str:
    return json.dumps({"account_id": account.id, "openid": account.openid,
                       "candidate_id": account.candidate_id})


def session_key(token: str) -> str:
    """The Redis key of a token's session."""
    return _session_key_from_hash(crypto.token_hash(token))


def _session_key_from_hash(token_hash: str) -> str:
    return redis_store.key("mp-session", token_hash)


def _account_sessions_key(account_id: int) -> str:
    return redis_store.key("mp-account-sessions", account_id)


def resolve_session(token: str) -> MpUser | None:
    """The WeChat user behind a bearer token, or None when unknown/expired/revoked."""
    key = session_key(token)
    return user_from_session(key, redis_store.client.get(key))


def user_from_session(key: str, raw: bytes | None) -> MpUser | None:
    """The WeChat user a stored session (read from `key`) names."""
    if raw is None:
        return None
    data = json.loads(raw)
    if data.get("candidate_id") is not None and data.get("openid"):
        return MpUser(data["account_id"], data["openid"], data["candidate_id"])
    # Not bound when the session was issued (or issued by an older release): ask the
    # database, and keep the answer in the session once there is a binding.
    account = db.session.get(WechatAccount, data["account_id"])
    user = MpUser(account.id, account.openid, account.candidate_id) if account else None
    payload = _payload(account) if account else None
    # End the read's transaction (after reading the attributes: a rollback expires them):
    # the request's own work may need the pooled connection (a web process may have only
    # one, and the cancel path takes it from the pool).
    db.session.rollback()
    if user is None:
        return None
    if user.candidate_id is not None:
        redis_store.client.set(key, payload, keepttl=True)
    return user


def revoke_sessions(account_id: int) -> int:
    """Log this WeChat account out everywhere (HR changes its binding). Returns how many
    sessions were open."""
    index = _account_sessions_key(account_id)
    hashes = redis_store.client.smembers(index)
    pipe = redis_store.client.pipeline()
    for token_hash in hashes:
        pipe.delete(_session_key_from_hash(token_hash.decode()))
    pipe.delete(index)
    results = pipe.execute()
    return sum(results[:-1])


def logout(token: str) -> None:
    token_hash = crypto.token_hash(token)
    raw = redis_store.client.get(_session_key_from_hash(token_hash))
    pipe = redis_store.client.pipeline()
    pipe.delete(_session_key_from_hash(token_hash))
    if raw is not None:
        pipe.srem(_account_sessions_key(json.loads(raw)["account_id"]), token_hash)
    pipe.execute()
