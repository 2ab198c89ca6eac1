"""The request id beyond errors: on every response, and where the rows and logs need it.

Every response carries `X-Request-Id` (the proxy's when it sent a plain one, else ours:
app.core.errors.request_id), so a client or a support ticket can quote it. Views put it
on the Actor (`Actor.in_request(current_request_id())`); the rows a cancellation queues
(outbox messages, webhook deliveries) and its audit entries store it, the worker's send
log lines repeat it, and the JSON log lines of the request carry it: one grep of the id
shows the request, its cancellation and each message sent.

Traps:
- Services never call this (they do not read flask.g or request): views pass the id in.
- Outside a request (a job, a worker thread, the CLI) there is no id: None, not a new one
  (a made-up id would match nothing).
"""
from __future__ import annotations

from flask import Flask, has_request_context

from app.core.errors import request_id

HEADER = "X-Request-Id"


def current_request_id() -> str | None:
    """This request's id, or None outside a request."""
    if not has_request_context():
        return None
    return request_id()


def register(app: Flask) -> None:
    @app.after_request
    def tag_response(response):
        if HEADER not in response.headers:
            response.headers[HEADER] = current_request_id() or ""
        return response
