"""Domain errors and their translation into the JSON error body
`{"error": {"code", "message", "details"}}` (API) or an HTML page (console).

Whatever goes wrong, the client gets a status, a Chinese message and a stable code, never
a traceback: an AppError as itself; an HTTP error (404, 405, 413 from a chunked body past
its cap...) as its code; any other exception as a 500 `internal_error` that carries the
request id the log line carries, so support can find it.

Traps:
- The 500 page of the console is rendered from console/error.html, which reads the
  logged-in user: when the failure was the database's, that render may fail too; it then
  falls back to the plain page, and that to a bare string.
- A request id given by the client (X-Request-Id, e.g. from the reverse proxy) is kept
  only when it is short and plain (it goes into logs and headers).
"""
from __future__ import annotations

import re
import uuid

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class AppError(Exception):
    """An error with a stable code for programs and a Chinese message for people."""

    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 status: int | None = None, details: dict | None = None,
                 headers: dict | None = None):
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class NotFound(AppError):
    status = 404
    code = "not_found"
    message = "未找到该记录"


class ValidationFailed(AppError):
    status = 422
    code = "validation_failed"
    message = "提交的内容不符合要求"


class Conflict(AppError):
    status = 409
    code = "conflict"
    message = "当前状态不允许此操作"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    message = "请先登录"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    message = "没有权限执行此操作"


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"
    message = "服务暂时不可用，请稍后再试"


HTTP_MESSAGES = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "未找到该资源"),
    405: ("method_not_allowed", "不支持该请求方法"),
    413: ("payload_too_large", "提交的内容过大"),
    415: ("unsupported_media_type", "请使用 JSON 格式提交"),
    429: ("rate_limited", "操作过于频繁，请稍后再试"),
    500: ("internal_error", "系统繁忙，请稍后再试"),
}


def error_body(code: str, message: str, details: dict | None = None):
    return {"error": {"code": code, "message": message, "details": details or {}}}


_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id() -> str:
    """This request's id: g.request_id when set, else the proxy's X-Request-Id when it is
    plain, else a new one (kept on g for the rest of the request)."""
    rid = g.get("request_id")
    if rid:
        return rid
    given = request.headers.get("X-Request-Id", "")
    rid = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex
    g.request_id = rid
    return rid


def wants_json() -> bool:
    """Whether this request's errors are answered as JSON (APIs, health) or as a page."""
    return _wants_json()


def _wants_json() -> bool:
    path = request.path
    return (path.startswith("/api/") or path.startswith("/_sandbox/")
            or path in ("/healthz", "/readyz") or request.is_json)


# Headers an HTTP error carries that the client needs (405 Allow, 429/503 Retry-After).
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")

PAGE_TITLES = {400: "请求有误", 403: "没有权限", 404: "未找到", 405: "请求方式有误",
               413: "内容过大", 429: "操作过于频繁", 500: "系统繁忙", 503: "服务暂不可用"}


def html_error(status: int, message: str):
    """The Chinese error page: the console's inside the console, else a plain one."""
    title = PAGE_TITLES.get(status, "无法完成操作")
    if request.blueprint == "console":
        try:
            return render_template("console/error.html", title=title, message=message), status
        except Exception:  # the page needs the user (database): fall back to the plain one
            pass
    try:
        return render_template("errors/error.html", title=title, message=message), status
    except Exception:
        return f"{title}：{message}", status, {"Content-Type": "text/plain; charset=utf-8"}


def register(app: Flask) -> None:
    @app.errorhandler(AppError)
    def handle_app_error(exc: AppError):
        response = jsonify(error_body(exc.code, exc.message, exc.details))
        response.status_code = exc.status
        for key, value in exc.headers.items():
            response.headers[key] = value
        return response

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        status = exc.code or 500
        if status == 413:  # a streamed body past its cap: the page must not read it again
            from app.core.body_limits import drop_body

            drop_body()
        code, message = HTTP_MESSAGES.get(status, ("http_error", "请求失败"))
        if _wants_json():
            response = jsonify(error_body(code, message))
            response.status_code = status
        else:
            response = app.make_response(html_error(status, message))
        headers = dict(exc.get_headers())
        for key in _KEPT_HEADERS:
            if headers.get(key):
                response.headers[key] = headers[key]
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        rid = request_id()
        app.logger.exception("unhandled error on %s %s request_id=%s", request.method,
                             request.path, rid)
        from app.extensions import db

        try:
            db.session.rollback()
        except Exception:  # the connection itself may be what failed
            app.logger.warning("rollback after an unhandled error failed", exc_info=True)
        message = "系统繁忙，请稍后再试"
        if _wants_json():
            response = jsonify(error_body("internal_error", message, {"request_id": rid}))
            response.status_code = 500
        else:
            response = app.make_response(html_error(500, f"{message}（请求编号 {rid}）"))
        response.headers["X-Request-Id"] = rid
        return response
