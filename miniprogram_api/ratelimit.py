"""Redis-backed rate limits per user and per IP: 429 with Retry-After."""
from __future__ import annotations

import time
from functools import wraps

from flask import current_app, g, request

from app.errors import AppError
from app.extensions import redis_store

# scope -> {"user": (limit, window_seconds), "ip": (limit, window_seconds)}
# Per-IP limits are generous: many candidates share a mobile carrier's NAT address.
DEFAULT_LIMITS = {
    "login": {"ip": (300, 60), "user": (20, 60)},
    "bind": {"ip": (120, 60), "user": (10, 60)},
    "cancel": {"ip": (300, 60), "user": (20, 60)},
}


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    message = "操作过于频繁，请稍后再试"


def _limits(scope: str) -> dict:
    configured = current_app.config.get("RATE_LIMITS") or {}
    return {**DEFAULT_LIMITS.get(scope, {}), **configured.get(scope, {})}


def hit(scope: str, kind: str, ident: object) -> None:
    """Count one request in a fixed window; raise RateLimited past the limit."""
    hit_many(scope, [(kind, ident)])


def hit_many(scope: str, counters: list[tuple[str, object]]) -> None:
    """Count one request against several limits of a scope (per IP, per user) in one
    Redis round trip; raise RateLimited when any is exceeded."""
    limits = _limits(scope)
    now = int(time.time())
    checks = []
    pipe = redis_store.client.pipeline(transaction=False)
    for kind, ident in counters:
        limit_window = limits.get(kind)
        if not limit_window:
            continue
        limit, window = limit_window
        bucket = now // window
        key = redis_store.key("rl", scope, kind, ident, bucket)
        pipe.incr(key)
        pipe.expire(key, window + 1)
        checks.append((limit, window, bucket))
    if not checks:
        return
    counts = pipe.execute()[::2]
    retry_after = 0
    for count, (limit, window, bucket) in zip(counts, checks, strict=True):
        if count > limit:
            retry_after = max(retry_after, 1, (bucket + 1) * window - now)
    if retry_after:
        raise RateLimited(details={"scope": scope, "retry_after": retry_after},
                          headers={"Retry-After": str(retry_after)})


def client_ip() -> str:
    return request.remote_addr or "unknown"


def limited(scope: str):
    """Per-IP before the view; per-user (the WeChat account) when a session is known."""
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
