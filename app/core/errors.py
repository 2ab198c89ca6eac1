"""Domain errors and their translation into the JSON error body
`{"error": {"code", "message", "details"}}` (API) or an HTML page (console)."""
from __future__ import annotations

from flask import Flask, jsonify, request
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


def _wants_json() -> bool:
    path = request.path
    return (path.startswith("/api/") or path.startswith("/_sandbox/")
            or path in ("/healthz", "/readyz") or request.is_json)


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
        if not _wants_json():
            return exc
        code, message = HTTP_MESSAGES.get(exc.code or 500, ("http_error", "请求失败"))
        response = jsonify(error_body(code, message))
        response.status_code = exc.code or 500
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        from app.extensions import db

        db.session.rollback()
        if not _wants_json():
            return "系统繁忙，请稍后再试", 500
        return jsonify(error_body("internal_error", "系统繁忙，请稍后再试")), 500
