"""Redis-backed rate limits per user (or API key) and per IP: 429 with Retry-After.
A shared HTTP guard of the candidate API and the integration API.

Fixed windows: one counter per (scope, IP or user, window number), created with an expiry.
An authenticated endpoint checks its session and counts its request in one Redis round
trip (session_and_limits).

Who pays for a request (issue 12 §2):
- a request with a live session counts against its USER only: candidates behind one
  carrier NAT share an address, and junk tokens from that address must not lock them out;
- a request without a live session (no token, a forged or expired one) counts against
  its IP only: the user's counter only counts when the session exists, so a forged token
  cannot use up someone else's limit either;
- login has no session yet: it counts per IP, and per account once WeChat said who it is.
Every candidate request that writes (any method but GET/HEAD/OPTIONS) counts against
`mp_write` per user unless its route names a tighter scope; routes that create rows
(subscriptions, feedback) have their own.

The client's address is the socket's peer unless TRUSTED_PROXIES says how many reverse
proxies stand in front (app.core.proxy applies Werkzeug's ProxyFix for that many).
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
    # Every other candidate write (confirm, reschedule, answers, opens, logout...).
    "mp_write": {"ip": (300, 60), "user": (60, 60)},
    # Rows per call: up to 3 subscription results; feedback items go to HR's inbox.
    "subscriptions": {"ip": (300, 60), "user": (20, 60)},
    "feedback": {"ip": (300, 60), "user": (5, 60)},
    "feedback_daily": {"user": (30, 86400)},
    # /api/integration/v1, per API key (a failed authentication counts per IP only).
    "integration": {"ip": (1200, 60), "key": (600, 60)},
    "integration_write": {"key": (240, 60)},
}

# KEYS[1]: a session (may be absent); KEYS[2..]: counters. ARGV[2i-3]: "anon" (count
# KEYS[i] only when the session does NOT exist: the IP) or "auth" (only when it does: the
# user); ARGV[2i-2]: its expiry. Returns {session or nil, count of KEYS[2], ...} (0: not
# counted).
_SESSION_AND_COUNTERS = """
local session = redis.call('GET', KEYS[1])
local out = {session or false}
for i = 2, #KEYS do
  local n = 0
  if (ARGV[2 * i - 3] == 'anon') == (not session) then
    n = redis.call('INCR', KEYS[i])
    if n == 1 then redis.call('EXPIRE', KEYS[i], ARGV[2 * i - 2]) end
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
    """Read a session and, in one round trip, count the request: against the per-user
    limit of the account the token names (user_hint) when the session exists, else
    against the scope's per-IP limit. Raises RateLimited past a limit. Returns the stored
    session and whether the user was counted (False: count it with hit() once the user
    is known)."""
    now = int(time.time())
    ip = _counter(scope, "ip", client_ip(), now)
    user = _counter(scope, "user", user_hint, now) if user_hint is not None else None
    counters = [(c, mode) for c, mode in ((ip, "anon"), (user, "auth")) if c]
    args = [value for c, mode in counters for value in (mode, c.window + 1)]
    result = redis_store.script(_SESSION_AND_COUNTERS)(
        keys=[session_key, *(c.key for c, _ in counters)], args=args)
    raw, counts = result[0], result[1:]
    _check(scope, [(c, n) for (c, _), n in zip(counters, counts, strict=True)], now)
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
