"""The request guards and production posture every route gets, installed by create_app.

Order matters and is kept here, in one place:
1. the trusted-proxy fix (app.core.proxy) wraps the WSGI app, so every later step sees
   the client's address and scheme, not the balancer's;
2. the body cap (app.core.body_limits) runs first among the before_request functions,
   then the input guard (app.core.clean_input): both before CSRF reads a form;
3. JSON bodies are parsed by a depth-limited request class (app.core.json_limits);
4. responses get security headers (app.core.security_headers: /m/open as the console,
   HSTS in production);
5. log records are redacted (app.core.log_redaction) before any handler writes them.
"""
from __future__ import annotations

from flask import Flask


def install(app: Flask) -> None:
    from app.core import (
        body_limits,
        clean_input,
        json_limits,
        log_redaction,
        proxy,
        security_headers,
    )

    log_redaction.install(app)
    proxy.install(app)
    security_headers.install(app)
    json_limits.install(app)
    body_limits.install(app)
    clean_input.install(app)
