"""Sandbox state, all in Redis under `redis_store.key("sandbox", ...)`.

Several web processes (or a test's live server and the test itself) share one sandbox, so
nothing lives in process memory. Expiry rules are checked against the sandbox clock
(`now()`), which tests can move forward with POST /_sandbox/wechat/clock; Redis TTLs are
only set, generously, so that forgotten keys go away.
"""
from __future__ import annotations

import json
import secrets
import time
from datetime import datetime
from typing import Any

from app.core.timeutil import SHANGHAI
from app.extensions import redis_store

DAY = 86400


def key(*parts: object) -> str:
    return redis_store.key("sandbox", *parts)


def r():
    return redis_store.client


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def load(raw: bytes | str | None) -> Any:
    return json.loads(raw) if raw is not None else None


def text(raw: bytes | str | None) -> str | None:
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else raw


# --- clock ----------------------------------------------------------------------------

def now() -> float:
    """Sandbox time: wall clock plus the offset tests add with advance_clock(). The offset
    is read once per request (one request is handled at one moment, as WeChat does)."""
    from flask import g, has_request_context

    if has_request_context() and "sandbox_clock_offset" in g:
        return time.time() + g.sandbox_clock_offset
    raw = r().get(key("clock-offset"))
    offset = float(raw) if raw else 0.0
    if has_request_context():
        g.sandbox_clock_offset = offset
    return time.time() + offset


def iso_now() -> str:
    """Sandbox time as ISO 8601 with the +08:00 offset (milliseconds)."""
    return datetime.fromtimestamp(now(), SHANGHAI).isoformat(timespec="milliseconds")


def advance_clock(seconds: float) -> float:
    return float(r().incrbyfloat(key("clock-offset"), float(seconds)))


def reset_clock() -> None:
    r().delete(key("clock-offset"))


def clock_offset() -> float:
    offset = r().get(key("clock-offset"))
    return float(offset) if offset else 0.0


# --- users of the two apps --------------------------------------------------------------

def register_user(app_name: str, openid: str, unionid: str | None = None) -> str:
    """Make `openid` a user of the mini program ("mp") or a follower of the OA ("oa").

    An explicit unionid replaces the stored one; otherwise an existing one is kept.
    Returns the unionid now on record.
    """
    users = key("users", app_name)
    if unionid:
        r().hset(users, openid, unionid)
        return unionid
    r().hsetnx(users, openid, default_unionid(openid))
    return text(r().hget(users, openid))


def default_unionid(openid: str) -> str:
    return "sandbox-union-" + openid


def user_unionid(app_name: str, openid: str) -> str | None:
    return text(r().hget(key("users", app_name), openid))


def is_user(app_name: str, openid: object) -> bool:
    return isinstance(openid, str) and bool(openid) and \
        bool(r().hexists(key("users", app_name), openid))


def users(app_name: str) -> list[dict]:
    raw = r().hgetall(key("users", app_name))
    return sorted(({"openid": text(k), "unionid": text(v)} for k, v in raw.items()),
                  key=lambda u: u["openid"])


# --- subscription credits ---------------------------------------------------------------

def _credit_field(openid: str, template_id: str) -> str:
    return f"{openid}|{template_id}"


def add_credit(openid: str, template_id: str, count: int = 1) -> int:
    return int(r().hincrby(key("credits"), _credit_field(openid, template_id), count))


def consume_credit(openid: str, template_id: str) -> bool:
    """Use one credit if there is one (atomic: a concurrent loser puts its decrement back)."""
    field = _credit_field(openid, template_id)
    if int(r().hget(key("credits"), field) or 0) <= 0:
        return False  # never granted or used up: leave no trace
    left = r().hincrby(key("credits"), field, -1)
    if left < 0:
        r().hincrby(key("credits"), field, 1)
        return False
    return True


def credits(openid: str | None = None) -> list[dict]:
    items = []
    for field, value in r().hgetall(key("credits")).items():
        user, _, template_id = text(field).partition("|")
        if openid is None or user == openid:
            items.append({"openid": user, "template_id": template_id, "credits": int(value)})
    return sorted(items, key=lambda c: (c["openid"], c["template_id"]))


# --- accepted messages ------------------------------------------------------------------

def next_msgid() -> int:
    """A positive int64, unique across processes and increasing with time."""
    seq = r().incr(key("msgid-seq")) & 0xFFFFF
    return (int(time.time() * 1000) << 20) | seq


def record_message(message: dict) -> None:
    pipe = r().pipeline()
    pipe.hset(key("messages", "by-id"), str(message["msgid"]), dump(message))
    pipe.rpush(key("messages", "order"), str(message["msgid"]))
    pipe.execute()


def get_message(msgid: object) -> dict | None:
    return load(r().hget(key("messages", "by-id"), str(msgid)))


def update_message(msgid: object, **changes: Any) -> None:
    message = get_message(msgid)
    if message is not None:
        message.update(changes)
        r().hset(key("messages", "by-id"), str(msgid), dump(message))


def list_messages(touser: str | None = None) -> list[dict]:
    ids = [text(i) for i in r().lrange(key("messages", "order"), 0, -1)]
    if not ids:
        return []
    raw = r().hmget(key("messages", "by-id"), ids)
    items = [load(m) for m in raw if m is not None]
    return [m for m in items if touser is None or m.get("touser") == touser]


def clear_messages() -> None:
    r().delete(key("messages", "by-id"), key("messages", "order"))
    delete_matching(key("client-msg-id", "*"))


# --- one-shot markers, rate limits, call counters ---------------------------------------

def claim_once(*parts: object, ttl: int = DAY) -> bool:
    """True the first time these parts are claimed (shared by every process)."""
    return bool(r().set(key("once", *parts), "1", nx=True, ex=ttl))


def rate_hit(name: str, limit: int, window: float) -> bool:
    """Record one call in a sliding window; False when the call exceeds `limit`."""
    zkey = key("rate", name)
    t = now()
    pipe = r().pipeline()
    pipe.zremrangebyscore(zkey, "-inf", t - window)
    pipe.zadd(zkey, {f"{t:.6f}:{secrets.token_hex(4)}": t})
    pipe.zcard(zkey)
    pipe.expire(zkey, int(window) + 60)
    count = pipe.execute()[2]
    return count <= limit


def count_call(api: str) -> None:
    r().hincrby(key("calls"), api, 1)


def calls() -> dict[str, int]:
    return {text(k): int(v) for k, v in r().hgetall(key("calls")).items()}


def clear_calls() -> None:
    r().delete(key("calls"))


def delete_matching(pattern: str) -> int:
    count = 0
    for found in r().scan_iter(match=pattern, count=500):
        r().delete(found)
        count += 1
    return count


def reset_all() -> int:
    """Forget everything the sandbox knows (tokens, users, credits, messages, faults ...)."""
    return delete_matching(key("*"))
