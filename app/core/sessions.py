"""Cookie sessions for the console only.

The candidate API, WeChat callbacks and health checks authenticate by token or signature;
building and checking a signed cookie session on each of their requests would be wasted
work, so they get Flask's null session (reading it is empty, writing it is an error).
"""
from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

SESSIONLESS_PREFIXES = ("/api/", "/wechat/", "/healthz", "/readyz", "/metrics")


class ConsoleSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app, request):
        if request.path.startswith(SESSIONLESS_PREFIXES):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if self.is_null_session(session):
            return
        super().save_session(app, session, response)
