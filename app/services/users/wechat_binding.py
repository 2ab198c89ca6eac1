"""Binding an HR account to a WeChat user of the Official Account, and who a WeChat user
is (issue 10 §3).

The console shows each HR user a one-time binding code and a parametric QR code (scene
`hrbind_<token>`); the user sends `绑定 <code>` or scans, and that openid becomes theirs:
it receives HR messages, answers to the OA menu and commands, and opens the mobile
console. Unbinding: an admin in the console (accounts.unbind_wechat), or the user by
sending `解绑` or from their binding page; both go through
accounts.release_wechat_binding.

Traps:
- codes and scene tokens are stored as keyed hashes only (crypto.lookup_hash): the code
  is shown once, when issued; a new code replaces the user's unused ones;
- a code is short enough to type, so wrong codes are counted per openid in Redis and
  the openid is locked out for a while after HR_BINDING_MAX_FAILURES;
- one openid binds one HR account and one HR account one openid: binding takes the openid
  over from another account, and replaces this account's older openid (each audited);
- the binding lives in two places the rest of the code reads: hr_users.wechat_openid and
  the Official Account's wechat_accounts row (hr_user_id; what HR message routing uses,
  `followed` since the user is talking to us). Both are written together here;
- a disabled user's binding does not count (bound_user answers None).
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.core import crypto
from app.core.errors import AppError, NotFound, ValidationFailed
from app.core.timeutil import iso, utcnow
from app.extensions import db, redis_store
from app.models import HrBindingCode, HrUser, WechatAccount, WechatApp
from app.services import audit
from app.services.users import accounts

log = logging.getLogger(__name__)

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a screen
CODE_LENGTH = 8
SCENE_PREFIX = "hrbind_"
QRSCENE_PREFIX = "qrscene_"  # what WeChat puts before the scene when a scan makes a follow


class BindingCodeInvalid(ValidationFailed):
    code = "binding_code_invalid"
    message = "绑定码无效或已过期，请在招聘后台“微信绑定”页面重新生成"


class BindingLocked(AppError):
    status = 429
    code = "binding_locked"
    message = "绑定码错误次数过多，请稍后再试"


class NotBound(NotFound):
    code = "wechat_not_bound"
    message = "该微信尚未绑定招聘后台账号"


@dataclass(frozen=True)
class IssuedCode:
    code: str                 # shown once
    scene: str                # the QR scene string (hrbind_<token>)
    expires_at: datetime
    qr_url: str | None        # the QR code's content (WeChat's url), None when unavailable
    qr_error: str | None = None


@dataclass(frozen=True)
class BindResult:
    user_id: int
    display_name: str
    replaced_other: bool      # the openid was bound to another HR account before


# --- who is this WeChat user ----------------------------------------------------------------

def bound_user(openid: str | None) -> HrUser | None:
    """The active HR user bound to this Official Account openid, or None."""
    if not openid:
        return None
    user = db.session.scalar(select(HrUser).where(HrUser.wechat_openid == openid))
    if user is None:
        user_id = db.session.scalar(select(WechatAccount.hr_user_id).where(
            WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT, WechatAccount.openid == openid,
            WechatAccount.hr_user_id.is_not(None)))
        user = db.session.get(HrUser, user_id) if user_id is not None else None
    return user if user is not None and user.active else None


# --- issuing a code -------------------------------------------------------------------------

def code_minutes() -> int:
    """How long a binding code (and its QR code) is valid."""
    return int(current_app.config.get("HR_BINDING_CODE_MINUTES", 10))


def _code_hash(code: str) -> str:
    return crypto.lookup_hash("hr-binding-code:" + code)


def _scene_hash(token: str) -> str:
    return crypto.lookup_hash("hr-binding-scene:" + token)


def normalize_code(text: str) -> str:
    """What the user typed, as issued: upper case, without spaces or dashes."""
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def issue_code(user_id: int, *, ip: str | None = None, now: datetime | None = None
               ) -> IssuedCode:
    """A new one-time binding code and QR scene for this HR user (their older unused codes
    stop working), valid HR_BINDING_CODE_MINUTES; the QR code comes from WeChat after the
    commit (without it the typed code still works)."""
    now = now or utcnow()
    user = db.session.get(HrUser, user_id)
    if user is None or not user.active:
        raise accounts.UserNotFound()
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    token = secrets.token_urlsafe(24)
    expires_at = now + timedelta(minutes=code_minutes())
    db.session.execute(delete(HrBindingCode).where(HrBindingCode.hr_user_id == user.id,
                                                   HrBindingCode.used_at.is_(None)))
    db.session.add(HrBindingCode(hr_user_id=user.id, code_hash=_code_hash(code),
                                 scene_hash=_scene_hash(token), expires_at=expires_at))
    audit.record(actor_type="hr", actor_id=user.id, action="hr_user.wechat_code_issued",
                 object_type="hr_user", object_id=user.id, ip=ip,
                 data={"expires_at": iso(expires_at)})
    db.session.commit()
    scene = SCENE_PREFIX + token
    qr_url, qr_error = _qr_code(scene, code_minutes() * 60)
    return IssuedCode(code, scene, expires_at, qr_url, qr_error)


def _qr_code(scene: str, seconds: int) -> tuple[str | None, str | None]:
    """A temporary string-scene QR code from WeChat: (its url, None) or (None, why not)."""
    from wechatpy.exceptions import WeChatClientException

    from app.wechat.client import WeChatUnavailable, official_account_client

    body = {"expire_seconds": seconds, "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}}}
    try:
        result = official_account_client().call(lambda c: c.post("qrcode/create", data=body))
    except WeChatClientException as exc:
        log.warning("qrcode/create failed: %s %s", exc.errcode, exc.errmsg)
        return None, f"微信未能生成二维码（{exc.errcode}），请使用绑定码"
    except WeChatUnavailable:
        log.warning("qrcode/create: WeChat unreachable")
        return None, "暂时无法连接微信生成二维码，请使用绑定码"
    return result.get("url"), None


def pending_code_expiry(user_id: int, now: datetime | None = None) -> datetime | None:
    """When the user's unused code stops working (None: no valid code)."""
    now = now or utcnow()
    return db.session.scalar(select(HrBindingCode.expires_at).where(
        HrBindingCode.hr_user_id == user_id, HrBindingCode.used_at.is_(None),
        HrBindingCode.expires_at > now).order_by(HrBindingCode.expires_at.desc()).limit(1))


# --- binding --------------------------------------------------------------------------------

def _failures_key(openid: str) -> str:
    return redis_store.key("hr-binding", "failures", openid)


def _check_not_locked(openid: str) -> None:
    limit = int(current_app.config.get("HR_BINDING_MAX_FAILURES", 5))
    if int(redis_store.client.get(_failures_key(openid)) or 0) >= limit:
        raise BindingLocked()


def _count_failure(openid: str) -> None:
    key = _failures_key(openid)
    if redis_store.client.incr(key) == 1:
        redis_store.client.expire(key, int(current_app.config.get(
            "HR_BINDING_LOCK_MINUTES", 15)) * 60)


def bind_by_code(openid: str, code_text: str, *, now: datetime | None = None) -> BindResult:
    """`绑定 <code>`: bind this openid to the code's HR account."""
    _check_not_locked(openid)
    code = normalize_code(code_text)
    found = _usable(HrBindingCode.code_hash == _code_hash(code), now) if code else None
    if found is None:
        _count_failure(openid)
        raise BindingCodeInvalid()
    return _bind(found, openid, via="code", now=now)


def bind_by_scene(openid: str, event_key: str, *, now: datetime | None = None
                  ) -> BindResult | None:
    """A scan of a binding QR code (SCAN: EventKey = scene; subscribe: qrscene_ + scene).
    None when the scene is not a binding scene (another QR code of the account)."""
    scene = (event_key or "").removeprefix(QRSCENE_PREFIX)
    if not scene.startswith(SCENE_PREFIX):
        return None
    _check_not_locked(openid)
    found = _usable(HrBindingCode.scene_hash == _scene_hash(scene[len(SCENE_PREFIX):]), now)
    if found is None:
        _count_failure(openid)
        raise BindingCodeInvalid("二维码已失效，请在招聘后台“微信绑定”页面重新生成")
    return _bind(found, openid, via="qr_scene", now=now)


def _usable(condition, now: datetime | None) -> HrBindingCode | None:
    now = now or utcnow()
    stmt = select(HrBindingCode).where(condition)
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # two scans of one code: the second sees it used
    row = db.session.scalar(stmt)
    if row is None or row.used_at is not None or row.expires_at <= now:
        db.session.rollback()
        return None
    return row


def _use(code: HrBindingCode, openid: str, now: datetime) -> None:
    """Mark the code used, as a compare-and-set (used_at still empty): of two scans of one
    code at once, on either backend, only one goes on."""
    used = db.session.execute(
        update(HrBindingCode).where(HrBindingCode.id == code.id, HrBindingCode.used_at.is_(None))
        .values(used_at=now, used_by_openid=openid)
        .execution_options(synchronize_session=False))
    if used.rowcount != 1:
        db.session.rollback()
        raise BindingCodeInvalid()


def _bind(code: HrBindingCode, openid: str, *, via: str, now: datetime | None) -> BindResult:
    now = now or utcnow()
    user = db.session.get(HrUser, code.hr_user_id)
    if user is None or not user.active:
        db.session.rollback()
        raise BindingCodeInvalid()
    _use(code, openid, now)
    previous = accounts.wechat_binding_of(user)
    if previous is not None and previous.openid == openid:
        db.session.commit()
        return BindResult(user.id, user.display_name, False)
    other = bound_user(openid) or _inactive_owner(openid)
    replaced_other = other is not None and other.id != user.id
    if replaced_other:  # the openid moves to this account: the other one loses it
        accounts.release_wechat_binding(other, actor_id=user.id, via=f"rebound_{via}")
    if previous is not None:  # this account's older WeChat user stops receiving
        accounts.release_wechat_binding(user, actor_id=user.id, via=f"replaced_{via}")
    db.session.flush()
    user.wechat_openid = openid
    user.wechat_bound_at = now
    account = db.session.scalar(select(WechatAccount).where(
        WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT, WechatAccount.openid == openid))
    if account is None:
        account = WechatAccount(app=WechatApp.OFFICIAL_ACCOUNT, openid=openid)
        db.session.add(account)
    account.hr_user_id = user.id
    account.followed = True
    audit.record(actor_type="hr", actor_id=user.id, action="hr_user.wechat_bound",
                 object_type="hr_user", object_id=user.id,
                 data={"via": via, "before": {"wechat_bound": previous is not None},
                       "after": {"wechat_bound": True, "wechat_bound_at": iso(now)},
                       "replaced_other_user": other.id if replaced_other else None})
    try:
        db.session.commit()
    except IntegrityError:  # the same openid bound by a concurrent request
        db.session.rollback()
        raise BindingCodeInvalid("绑定未完成，请重试") from None
    redis_store.client.delete(_failures_key(openid))
    return BindResult(user.id, user.display_name, replaced_other)


def _inactive_owner(openid: str) -> HrUser | None:
    """A disabled account still holding this openid (it is freed by a new binding)."""
    return db.session.scalar(select(HrUser).where(HrUser.wechat_openid == openid))


# --- unbinding ------------------------------------------------------------------------------

def unbind_self(openid: str) -> HrUser:
    """`解绑` in the Official Account: the user bound to this openid removes the binding."""
    user = bound_user(openid)
    if user is None:
        raise NotBound()
    accounts.release_wechat_binding(user, actor_id=user.id, via="oa_command")
    db.session.commit()
    return user


def unbind_own(user_id: int, *, ip: str | None = None) -> bool:
    """The user removes their own binding from their binding page."""
    user = db.session.get(HrUser, user_id)
    if user is None:
        raise accounts.UserNotFound()
    changed = accounts.release_wechat_binding(user, actor_id=user.id, ip=ip, via="self")
    db.session.commit()
    return changed
