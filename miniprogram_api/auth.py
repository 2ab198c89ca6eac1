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


def login_required(view=None, *, limit: str | None = None):
    """Any logged-in WeChat user (bound or not). With `limit`, the request also counts
    against that rate-limit scope, per IP and per user, in the same Redis round trip as
    the session lookup."""
    if view is None:
        return lambda v: login_required(v, limit=limit)

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = _bearer()
        if limit is None:
            user = resolve_session(token) if token else None
        else:
            user = _session_counted(limit, token)
        if user is None:
            raise Unauthorized("登录已失效，请重新登录", code="session_invalid")
        g.mp_user = user
        g.idempotency_owner = f"mp:{user.id}"
        return view(*args, **kwargs)
    return wrapper


def _session_counted(scope: str, token: str | None):
    if not token:
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
