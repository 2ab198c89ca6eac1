"""Idempotency-Key: the same key replays the first response and does nothing again.

A shared HTTP guard (the candidate API and the integration API): keys are per caller, the
`g.idempotency_owner` its authentication set (a WeChat user, an API key), so two callers
never see each other's responses."""
from __future__ import annotations

import hashlib
import json
from functools import wraps

from flask import Response, g, request

from app.core.errors import AppError, ValidationFailed
from app.extensions import redis_store

TTL_SECONDS = 24 * 3600
IN_PROGRESS_TTL = 60


class RequestInProgress(AppError):
    status = 409
    code = "request_in_progress"
    message = "相同的请求正在处理中，请稍候"


def idempotent(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return view(*args, **kwargs)
        if len(key) > 100:
            raise ValidationFailed("Idempotency-Key 过长", code="invalid_idempotency_key",
                                   details={"field": "Idempotency-Key"})
        fingerprint = hashlib.sha256(request.path.encode() + b"\n" + request.get_data()
                                     ).hexdigest()
        store_key = redis_store.key("idem", g.idempotency_owner, key)
        client = redis_store.client
        if not client.set(store_key, json.dumps({"state": "pending"}), nx=True,
                          ex=IN_PROGRESS_TTL):
            saved = json.loads(client.get(store_key) or b'{"state":"pending"}')
            if saved.get("state") == "pending":
                raise RequestInProgress()
            if saved["fingerprint"] != fingerprint:
                raise ValidationFailed("该 Idempotency-Key 已用于另一个请求",
                                       code="idempotency_key_reused",
                                       details={"field": "Idempotency-Key"})
            response = Response(saved["body"], status=saved["status"],
                                mimetype="application/json")
            response.headers["Idempotent-Replayed"] = "true"
            return response
        try:
            response = _as_response(view(*args, **kwargs))
        except AppError as exc:
            from app.core.errors import error_body

            response = Response(json.dumps(error_body(exc.code, exc.message, exc.details),
                                           ensure_ascii=False),
                                status=exc.status, mimetype="application/json")
        except Exception:
            client.delete(store_key)  # unexpected failure: the client may retry
            raise
        if response.status_code >= 500:
            client.delete(store_key)
        else:
            client.set(store_key, json.dumps({
                "state": "done", "fingerprint": fingerprint, "status": response.status_code,
                "body": response.get_data(as_text=True)}), ex=TTL_SECONDS)
        return response
    return wrapper


def _as_response(rv) -> Response:
    from flask import current_app

    return current_app.make_response(rv)
