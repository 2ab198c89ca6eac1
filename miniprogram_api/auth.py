"""Bearer-token authentication for the candidate API."""
from __future__ import annotations

from functools import wraps

from flask import g, request

from app.errors import AppError, Unauthorized
from app.services.mp_login import resolve_session


class NotBound(AppError):
    status = 403
    code = "candidate_not_bound"
    message = "请先通过面试邀请链接完成身份绑定"


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def login_required(view):
    """Any logged-in WeChat user (bound or not)."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        token = _bearer()
        user = resolve_session(token) if token else None
        if user is None:
            raise Unauthorized("登录已失效，请重新登录", code="session_invalid")
        g.mp_user = user
        return view(*args, **kwargs)
    return wrapper


def candidate_required(view):
    """A logged-in WeChat user bound to a candidate record."""
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if g.mp_user.candidate_id is None:
            raise NotBound()
        g.candidate_id = g.mp_user.candidate_id
        return view(*args, **kwargs)
    return wrapper
