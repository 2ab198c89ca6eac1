"""API keys of /api/integration/v1: created (the key shown once), listed, revoked, and
checked on each request.

A key is "aiik_" + 40 random url-safe characters. Only its SHA-256 is stored (a key is
random and long, so a fast hash is enough: nothing to brute-force); `prefix`, the first
12 characters, tells keys apart in lists and logs without revealing them.

last_used_at is written at most once a minute per key (a Redis marker decides who
writes), so a busy integration costs no UPDATE per request.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from app.core.errors import NotFound, ValidationFailed
from app.core.timeutil import utcnow
from app.extensions import db, redis_store
from app.models import ApiKey
from app.services import audit
from app.services.cancellation.policy import PermissionDenied
from app.services.users.actor import SCOPE_PERMISSIONS, Actor

KEY_PREFIX = "aiik_"
PREFIX_LENGTH = 12
SCOPES = tuple(SCOPE_PERMISSIONS)          # interviews:read, interviews:write, reports:read
SCOPE_LABELS = {"interviews:read": "读取面试",
                "interviews:write": "写入面试（同步、取消、报告结果）",
                "reports:read": "读取报表"}
TOUCH_EVERY_SECONDS = 60
NAME_MAX_LENGTH = 100
DEPARTMENT_MAX_LENGTH = 100
_KEY_RE = re.compile(r"^aiik_[A-Za-z0-9_-]{20,100}$")


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    message = "未找到该接口密钥"


class ApiKeyInvalid(ValidationFailed):
    code = "api_key_invalid"
    message = "接口密钥的设置有误"


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str   # the key itself: shown once, never stored


def hash_key(secret: str) -> str:
    """What is stored of a key: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _clean(name: str | None, scopes, departments) -> tuple[str, list[str], list[str]]:
    name = (name or "").strip()
    if not name:
        raise ApiKeyInvalid("请填写密钥名称", details={"field": "name"})
    if len(name) > NAME_MAX_LENGTH:
        raise ApiKeyInvalid(f"密钥名称最多{NAME_MAX_LENGTH}个字",
                            details={"field": "name", "max_length": NAME_MAX_LENGTH})
    wanted = list(dict.fromkeys(s.strip() for s in scopes or () if s and s.strip()))
    if not wanted:
        raise ApiKeyInvalid("请至少选择一个权限范围", details={"field": "scopes"})
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise ApiKeyInvalid(f"未知的权限范围：{'、'.join(unknown)}（可选：{'、'.join(SCOPES)}）",
                            details={"field": "scopes", "unknown": unknown})
    depts = list(dict.fromkeys(d.strip() for d in departments or () if d and d.strip()))
    if any(len(d) > DEPARTMENT_MAX_LENGTH for d in depts):
        raise ApiKeyInvalid("部门名称过长", details={"field": "departments"})
    return name, wanted, depts


def _actor_columns(actor: Actor | None) -> tuple[str, int | None]:
    """Who acts on keys: an HR user with the settings permission, or the CLI (system)."""
    if actor is None:
        return "system", None
    if not actor.can("settings"):
        raise PermissionDenied()
    return actor.type.value, actor.id


def create_key(*, name: str, scopes, departments=(), actor: Actor | None = None) -> CreatedKey:
    """Create a key with these scopes (and departments: none means every department);
    the key is returned once and only its hash is kept. Admins (settings) or the CLI."""
    actor_type, actor_id = _actor_columns(actor)
    name, scopes, departments = _clean(name, scopes, departments)
    secret = KEY_PREFIX + secrets.token_urlsafe(30)
    key = ApiKey(name=name, prefix=secret[:PREFIX_LENGTH], key_hash=hash_key(secret),
                 scopes=scopes, departments=departments,
                 created_by=actor_id if actor_type == "hr" else None)
    db.session.add(key)
    db.session.flush()
    audit.record(actor_type=actor_type, actor_id=actor_id, action="api_key.created",
                 object_type="api_key", object_id=key.id,
                 data={"before": None, "after": _snapshot(key)},
                 ip=actor.ip if actor else None)
    db.session.commit()
    return CreatedKey(key, secret)


def list_keys(*, actor: Actor | None = None, include_revoked: bool = True) -> list[ApiKey]:
    """Every key (newest first), for admins and the CLI; never the keys themselves."""
    _actor_columns(actor)
    stmt = select(ApiKey).order_by(ApiKey.id.desc())
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return list(db.session.scalars(stmt))


def revoke_key(key_id: int, *, actor: Actor | None = None) -> ApiKey:
    """Revoke a key: from now on it answers 401. Revoking twice changes nothing."""
    actor_type, actor_id = _actor_columns(actor)
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise ApiKeyNotFound()
    if key.revoked_at is None:
        before = _snapshot(key)
        key.revoked_at = utcnow()
        audit.record(actor_type=actor_type, actor_id=actor_id, action="api_key.revoked",
                     object_type="api_key", object_id=key.id,
                     data={"before": before, "after": _snapshot(key)},
                     ip=actor.ip if actor else None)
    db.session.commit()
    return key


def _snapshot(key: ApiKey) -> dict:
    return {"name": key.name, "prefix": key.prefix, "scopes": list(key.scopes or []),
            "departments": list(key.departments or []),
            "revoked": key.revoked_at is not None}


def authenticate(secret: str | None) -> ApiKey | None:
    """The active key this secret is, or None (unknown, malformed or revoked)."""
    if not secret or not _KEY_RE.match(secret):
        return None
    key = db.session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(secret))).first()
    if key is None or key.revoked_at is not None:
        return None
    return key


def touch(key: ApiKey, now: datetime | None = None) -> bool:
    """Record that the key was used, at most once a minute per key (across processes).
    Returns whether it wrote. Commits its own small UPDATE."""
    marker = redis_store.key("apikey-used", key.id)
    if not redis_store.client.set(marker, b"1", nx=True, ex=TOUCH_EVERY_SECONDS):
        return False
    db.session.execute(update(ApiKey).where(ApiKey.id == key.id)
                       .values(last_used_at=now or utcnow()))
    db.session.commit()
    return True
