"""Redis-backed rate limits per user (or API key) and per IP: 429 with Retry-After.
A shared HTTP guard of the candidate API and the integration API.

Fixed windows: one counter per (scope, IP or user, window number), created with an expiry.
An authenticated endpoint checks its session and counts its request in one Redis round
trip (session_and_limits): the user's counter only counts when the session exists, so a
forged token cannot use up someone else's limit.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, request

from app.core.errors import AppError
from app.extensions import redis_store

# scope -> {"user": (limit, window_seconds), "ip": (limit, window_seconds)}
# Per-IP limits are generous: many candidates share a mobile carrier's NAT address.
DEFAULT_LIMITS = {
    "login": {"ip": (300, 60), "user": (20, 60)},
    "bind": {"ip": (120, 60), "user": (10, 60)},
    "cancel": {"ip": (300, 60), "user": (20, 60)},
    # /api/integration/v1, per API key (a failed authentication counts per IP only).
    "integration": {"ip": (1200, 60), "key": (600, 60)},
    "integration_write": {"key": (240, 60)},
}

# KEYS[1]: a session (may be absent); KEYS[2]: the IP counter; KEYS[3..]: counters that
# count only when the session exists. ARGV[i]: the expiry of KEYS[i + 1].
# Returns {session or nil, count of KEYS[2], count of KEYS[3], ...} (0: not counted).
_SESSION_AND_COUNTERS = """
local session = redis.call('GET', KEYS[1])
local out = {session or false}
for i = 2, #KEYS do
  local n = 0
  if i == 2 or session then
    n = redis.call('INCR', KEYS[i])
    if n == 1 then redis.call('EXPIRE', KEYS[i], ARGV[i - 1]) end
  end
  out[i] = n
end
return out
"""


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    message = "操作过于频繁，请稍后再试"


@dataclass(frozen=True)
class _Counter:
    key: str
    limit: int
    window: int
    bucket: int


def _limits(scope: str) -> dict:
    configured = current_app.config.get("RATE_LIMITS") or {}
    return {**DEFAULT_LIMITS.get(scope, {}), **configured.get(scope, {})}


def _counter(scope: str, kind: str, ident: object, now: int) -> _Counter | None:
    limit_window = _limits(scope).get(kind)
    if not limit_window:
        return None
    limit, window = limit_window
    bucket = now // window
    return _Counter(redis_store.key("rl", scope, kind, ident, bucket), limit, window, bucket)


def _check(scope: str, counted: list[tuple[_Counter, int]], now: int) -> None:
    retry_after = 0
    for counter, count in counted:
        if count > counter.limit:
            retry_after = max(retry_after, 1,
                              (counter.bucket + 1) * counter.window - now)
    if retry_after:
        raise RateLimited(details={"scope": scope, "retry_after": retry_after},
                          headers={"Retry-After": str(retry_after)})


def hit(scope: str, kind: str, ident: object) -> None:
    """Count one request in a fixed window; raise RateLimited past the limit."""
    hit_many(scope, [(kind, ident)])


def hit_many(scope: str, idents: list[tuple[str, object]]) -> None:
    """Count one request against several limits of a scope (per IP, per user) in one
    Redis round trip; raise RateLimited when any is exceeded."""
    now = int(time.time())
    counters = [c for c in (_counter(scope, kind, ident, now) for kind, ident in idents) if c]
    if not counters:
        return
    pipe = redis_store.client.pipeline(transaction=False)
    for counter in counters:
        pipe.incr(counter.key)
        pipe.expire(counter.key, counter.window + 1)
    counts = pipe.execute()[::2]
    _check(scope, list(zip(counters, counts, strict=True)), now)


def session_and_limits(scope: str, session_key: str, user_hint: int | None
                       ) -> tuple[bytes | None, bool]:
    """Read a session and count the request against the scope's per-IP limit and, when
    the session exists, the per-user limit of the account the token names (user_hint),
    in one round trip. Raises RateLimited past a limit. Returns the stored session and
    whether the user was counted (False: count it with hit() once the user is known)."""
    now = int(time.time())
    ip = _counter(scope, "ip", client_ip(), now)
    user = _counter(scope, "user", user_hint, now) if user_hint is not None else None
    counters = [c for c in (ip, user) if c]
    result = redis_store.script(_SESSION_AND_COUNTERS)(
        keys=[session_key, *(c.key for c in counters)], args=[c.window + 1 for c in counters])
    raw, counts = result[0], result[1:]
    _check(scope, [(c, n) for c, n in zip(counters, counts, strict=True)], now)
    return raw, user is not None or _limits(scope).get("user") is None


def client_ip() -> str:
    return request.remote_addr or "unknown"


def limited(scope: str):
    """Per-IP before the view; per-user (the WeChat account) when a session is known.
    For endpoints without a session (login); authenticated ones use
    login_required(limit=...)."""
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            counters = [("ip", client_ip())]
            user = g.get("mp_user")
            if user is not None:
                counters.append(("user", user.id))
            hit_many(scope, counters)
            return view(*args, **kwargs)
        return wrapper
    return decorator
