"""Authentication by API key, scopes, rate limits per key, the body limit, unusable ids.

`Authorization: Bearer aiik_...`: a missing, unknown or revoked key is 401, a key without
the route's scope 403 (both in the candidate API's error format). Each request counts
against the key's rate limit (and writes against a second, tighter one); failed
authentications count per IP only, so nobody can use up another system's limit.
"""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, request

from app.core import ratelimit
from app.core.errors import AppError, Forbidden, Unauthorized
from app.core.request_context import current_request_id
from app.integration_api import bp
from app.services.integration import keys
from app.services.interviews.errors import InterviewNotFound
from app.services.users.actor import Actor
from miniprogram_api.views import is_clean_text

MAX_BODY_BYTES = 256 * 1024


class ApiKeyRequired(Unauthorized):
    code = "api_key_required"
    message = "请在 Authorization 请求头中以 Bearer 方式提供接口密钥"


class ApiKeyRejected(Unauthorized):
    code = "api_key_invalid"
    message = "接口密钥无效或已被吊销"


class ScopeMissing(Forbidden):
    code = "scope_missing"
    message = "该接口密钥没有执行此操作的权限范围"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    message = "提交的内容过大"


def _bearer() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def key_required(scope: str, *, write: bool = False):
    """The request carries an active key with `scope`; sets g.actor (Actor.integration)
    and g.idempotency_owner. Writes count against the key's write limit as well."""
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            secret = _bearer()
            key = keys.authenticate(secret)
            if key is None:
                ratelimit.hit("integration", "ip", ratelimit.client_ip())
                raise ApiKeyRejected() if secret else ApiKeyRequired()
            ratelimit.hit_many("integration", [("ip", ratelimit.client_ip()),
                                               ("key", key.id)])
            if write:
                ratelimit.hit("integration_write", "key", key.id)
            if scope not in (key.scopes or ()):
                raise ScopeMissing(f"该接口密钥没有 {scope} 权限范围",
                                   details={"scope": scope})
            g.actor = Actor.integration(key).from_ip(ratelimit.client_ip()).in_request(
                current_request_id())
            g.idempotency_owner = f"apikey:{key.id}"
            keys.touch(key)
            return view(*args, **kwargs)
        return wrapper
    return decorator


@bp.before_request
def limit_body():
    """Bodies past the limit are refused before anything reads them (413)."""
    limit = current_app.config.get("INTEGRATION_MAX_BODY_BYTES", MAX_BODY_BYTES)
    request.max_content_length = limit  # also bounds a chunked body as it is read
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(details={"max_bytes": limit})


@bp.url_value_preprocessor
def reject_unusable_ids(endpoint, values):
    """An id that cannot exist (NUL, surrogates, absurd length) is simply not found."""
    for value in (values or {}).values():
        if isinstance(value, str) and (len(value) > 64 or not is_clean_text(value)):
            raise InterviewNotFound("未找到该记录", code="not_found")
