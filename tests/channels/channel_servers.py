"""Local servers for the channel tests (helpers; the fixtures are in conftest.py).

Nothing leaves 127.0.0.1. The SMS sandbox runs on a tiny Flask app of its own (the
in-process Redis-compatible store, no database); SMTP servers are aiosmtpd Controllers.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import threading
import uuid
from dataclasses import dataclass, field

import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from flask import Flask
from werkzeug.serving import make_server

from app.channels.sms.sandbox import emulator as sms_sandbox
from app.extensions import redis_store

SECRET_ID = "AKIDchannelsTest0000000000000000000000"
SECRET_KEY = "channels-test-secret-key-000000"
SDK_APP_ID = "1400123456"
SIGN_NAME = "AI面试"
TEMPLATES = {"candidate_cancel_confirmed": "1001001", "hr_cancel_alert": "1001002"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- SMS sandbox over HTTP ----------------------------------------------------------------

class SmsSandboxServer:
    """The sandbox blueprint at /_sandbox/sms on a werkzeug server on a free port."""

    def __init__(self):
        self.app = Flask("sms-sandbox-test")
        self.app.config.update(TENCENT_SECRET_ID=SECRET_ID, TENCENT_SECRET_KEY=SECRET_KEY,
                               TENCENT_SMS_SDK_APP_ID=SDK_APP_ID,
                               REDIS_KEY_PREFIX=f"aiictest:{uuid.uuid4().hex[:10]}:")
        redis_store.init_app(self.app)  # in-process store: no REDIS_URL
        self.app.register_blueprint(sms_sandbox.bp, url_prefix="/_sandbox/sms")
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.port}"
        self.endpoint = self.base + "/_sandbox/sms"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def config(self, **overrides) -> dict:
        """App config for TencentSmsProvider.from_config pointed at this sandbox."""
        return {"SMS_PROVIDER": "tencent", "TENCENT_SECRET_ID": SECRET_ID,
                "TENCENT_SECRET_KEY": SECRET_KEY, "TENCENT_SMS_SDK_APP_ID": SDK_APP_ID,
                "TENCENT_SMS_SIGN_NAME": SIGN_NAME, "TENCENT_SMS_TEMPLATES": TEMPLATES,
                "TENCENT_SMS_ENDPOINT": self.endpoint, "TENCENT_SMS_TIMEOUT": 5, **overrides}

    def messages(self, phone: str | None = None) -> list[dict]:
        params = {"phone": phone} if phone else {}
        res = requests.get(self.endpoint + "/messages", params=params, timeout=5)
        res.raise_for_status()
        return res.json()["messages"]

    def fault(self, **body) -> None:
        res = requests.post(self.endpoint + "/faults", json=body, timeout=5)
        assert res.status_code == 200, res.text


# --- SMTP ---------------------------------------------------------------------------------

@dataclass
class RecordingHandler:
    """aiosmtpd handler: records accepted messages, or answers a fixed failure."""

    rcpt_reply: str | None = None   # e.g. "550 5.1.1 User unknown"
    data_reply: str | None = None   # e.g. "451 4.3.0 Try again later"
    received: list = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.received.append({"mail_from": envelope.mail_from,
                              "rcpt_tos": list(envelope.rcpt_tos),
                              "content": envelope.content,
                              "authenticated": session.authenticated,
                              "tls": server.transport.get_extra_info("ssl_object")
                              is not None})
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, controller: Controller, handler: RecordingHandler):
        self.controller = controller
        self.handler = handler
        self.port = controller.port

    @property
    def received(self) -> list[dict]:
        return self.handler.received


USERS = {"mailer": "s3cret"}


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and \
        USERS.get(auth_data.login.decode()) == auth_data.password.decode()
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


def make_tls_files(folder):
    """A self-signed certificate for 127.0.0.1: (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)
