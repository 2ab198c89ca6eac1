"""Bearer-token authentication for the candidate API."""
from __future__ import annotations

from functools import wraps

from flask import g, request

from app.core import ratelimit
from app.core.errors import AppError, Unauthorized
from app.services.candidates import sessions as mp_login
from app.services.candidates.sessions import resolve_session


class NotBound(AppError):
    status = 403
    code = "candidate_not_bound"
    message = "请先通过面试邀请链接完成身份绑定"


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# Methods that only read: not counted unless the route names a scope.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_SCOPE = "mp_write"


def login_required(view=None, *, limit: str | None = None):
    """Any logged-in WeChat user (bound or not). With `limit`, the request also counts
    against that rate-limit scope in the same Redis round trip as the session lookup:
    per user with a live session, per IP without one (app.core.ratelimit). A write
    (any method but GET/HEAD/OPTIONS) without a scope of its own counts against
    `mp_write`, so every endpoint that creates rows has a per-user limit."""
    if view is None:
        return lambda v: login_required(v, limit=limit)

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = _bearer()
        scope = limit or (WRITE_SCOPE if request.method not in READ_METHODS else None)
        if scope is None:
            user = resolve_session(token) if token else None
        else:
            user = _session_counted(scope, token)
        if user is None:
            raise Unauthorized("登录已失效，请重新登录", code="session_invalid")
        g.mp_user = user
        g.idempotency_owner = f"mp:{user.id}"
        return view(*args, **kwargs)
    return wrapper


def _session_counted(scope: str, token: str | None):
    if not token:
        ratelimit.hit(scope, "ip", ratelimit.client_ip())  # unauthenticated: the IP pays
        return None
    key = mp_login.session_key(token)
    raw, user_counted = ratelimit.session_and_limits(scope, key,
                                                     mp_login.token_account_hint(token))
    user = mp_login.user_from_session(key, raw)
    if user is not None and not user_counted:
        ratelimit.hit(scope, "user", user.id)  # an older token that does not name its user
    return user


def candidate_required(view=None, *, limit: str | None = None):
    """A logged-in WeChat user bound to a candidate record."""
    if view is None:
        return lambda v: candidate_required(v, limit=limit)

    @wraps(view)
    @login_required(limit=limit)
    def wrapper(*args, **kwargs):
        if g.mp_user.candidate_id is None:
            raise NotBound()
        g.candidate_id = g.mp_user.candidate_id
        return view(*args, **kwargs)
    return wrapper
