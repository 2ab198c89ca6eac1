"""A backing service that is down is a 503 with Retry-After, never a 500.

When Redis or PostgreSQL cannot be reached (refused, reset, timed out, restarted under
us), every request that needs it answers 503 `service_unavailable` with a Retry-After:
JSON on the APIs, plain text to WeChat (which retries a callback that did not answer
200), the Chinese page on the console. Requests that need neither (the login page,
/healthz, static files) keep being served. Nothing is half done: the request's database
transaction is rolled back, and an Idempotency-Key reserved before the failure is
released (app/core/idempotency.py), so the client's retry runs the request again.

Recovery needs no restart: redis-py reconnects on the next command; SQLAlchemy discards
every pooled connection when one is found dead (a "disconnect" error invalidates the
pool) and app/core/pool.py pings connections that sat idle, so the first requests after
PostgreSQL returns get fresh connections.

Traps:
- sqlalchemy's OperationalError also covers errors of a live server (a statement timeout,
  a serialization failure): they are not outages, so only errors SQLAlchemy recognised
  as a lost connection (`connection_invalidated`), a pool checkout that timed out, or a
  connection that could not be opened count as one. The rest stay 500s with their
  traceback in the log.
- The log line says which service and why, once per request, without a traceback: an
  outage makes every request fail the same way.
"""
from __future__ import annotations

import logging

import redis
from flask import Flask, current_app, request
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

MESSAGE = "服务暂时不可用，请稍后再试"
CODE = "service_unavailable"

_CONNECT_FAILURES = ("connection refused", "could not connect", "connection to server",
                     "server closed the connection", "terminating connection",
                     "the database system is starting up", "the database system is shutting down",
                     "the database system is in recovery mode", "connection timeout expired",
                     "consuming input failed", "connection is closed", "ssl syscall error")


try:
    from psycopg import OperationalError as _psycopg_error
except ImportError:  # pragma: no cover - psycopg is a pinned dependency
    _psycopg_error = None


def database_unreachable(exc: BaseException) -> bool:
    """Whether a SQLAlchemy error means the database could not be reached."""
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True  # pool checkout timed out; a pooled connection failed its ping
    if _psycopg_error is not None and isinstance(exc, _psycopg_error):
        # Raised unwrapped when the pool, replacing a dead connection, cannot open one.
        return any(marker in str(exc).lower() for marker in _CONNECT_FAILURES)
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            text = str(exc.orig or exc).lower()
            return any(marker in text for marker in _CONNECT_FAILURES)
    return False


def outage_response(service: str, exc: BaseException):
    """The 503 for `service` ("redis" or "database") in the format of this request's
    route."""
    from app.core.errors import error_body, html_error, request_id, wants_json

    rid = request_id()
    log.warning("%s unreachable on %s %s request_id=%s: %s: %s", service, request.method,
                request.path, rid, type(exc).__name__, str(exc).splitlines()[0][:200]
                if str(exc) else "")
    _rollback()
    retry_after = str(current_app.config.get("OUTAGE_RETRY_AFTER_SECONDS", 5))
    if request.path.startswith("/wechat/"):
        response = current_app.response_class("service unavailable", status=503,
                                              mimetype="text/plain")
    elif wants_json():
        from flask import jsonify

        response = jsonify(error_body(CODE, MESSAGE, {"request_id": rid,
                                                      "service": service}))
        response.status_code = 503
    else:
        response = current_app.make_response(html_error(503, f"{MESSAGE}（请求编号 {rid}）"))
    response.headers["Retry-After"] = retry_after
    response.headers["X-Request-Id"] = rid
    return response


def _rollback() -> None:
    from app.extensions import db

    try:
        db.session.rollback()
    except Exception:  # the connection is what failed
        log.debug("rollback after an outage failed", exc_info=True)


def register(app: Flask) -> None:
    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    def redis_down(exc):
        return outage_response("redis", exc)

    @app.errorhandler(sa_exc.DBAPIError)
    @app.errorhandler(sa_exc.TimeoutError)
    @app.errorhandler(sa_exc.DisconnectionError)
    def database_down(exc):
        if database_unreachable(exc):
            return outage_response("database", exc)
        # Not an outage: the generic handler (a 500 with a request id, traceback logged).
        handler = app.error_handler_spec[None][None].get(Exception)
        if handler is None:
            raise exc
        return handler(exc)

    if _psycopg_error is not None:
        app.register_error_handler(_psycopg_error, database_down)
