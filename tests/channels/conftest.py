"""Fixtures for the channel tests: the SMS sandbox over HTTP and real SMTP servers."""
from __future__ import annotations

import ssl

import pytest
from aiosmtpd.controller import Controller
from channel_servers import (
    RecordingHandler,
    SmsSandboxServer,
    SmtpServer,
    authenticator,
    free_port,
    make_tls_files,
)

from app.extensions import redis_store


@pytest.fixture
def sms_sandbox_server():
    """The Tencent SMS emulator on a werkzeug server of its own (no database)."""
    server = SmsSandboxServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    with server.app.app_context():
        redis_store.clear_namespace()


@pytest.fixture
def smtp_server():
    """Factory: smtp_server(rcpt_reply=..., data_reply=..., ssl_context=..., **SMTP kwargs)."""
    started: list[Controller] = []

    def start(*, rcpt_reply: str | None = None, data_reply: str | None = None,
              ssl_context: ssl.SSLContext | None = None, **smtp_kwargs) -> SmtpServer:
        handler = RecordingHandler(rcpt_reply=rcpt_reply, data_reply=data_reply)
        smtp_kwargs.setdefault("authenticator", authenticator)
        smtp_kwargs.setdefault("auth_require_tls", False)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(),
                                ssl_context=ssl_context, server_hostname="127.0.0.1",
                                **smtp_kwargs)
        controller.start()
        started.append(controller)
        return SmtpServer(controller, handler)

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (cert path, key path)."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server_tls_context(tls_files):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    return context
