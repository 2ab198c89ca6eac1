"""send_email against real SMTP servers (aiosmtpd) on 127.0.0.1."""
from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy

import pytest
from channel_servers import free_port

from app.channels.email import EmailResult, build_message, send_email

SUBJECT = "面试取消通知：AI-2024-03-15-001"
TEXT = "尊敬的张三，您已取消原定3月15日 10:00的Java开发工程师AI面试。如需重新预约，请联系招聘HR。"
HTML = "<p>尊敬的<b>张三</b>，您的AI面试已取消。</p>"


def config(port: int, **overrides) -> dict:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_TIMEOUT": 5,
            "MAIL_FROM": "AI面试通知 <noreply@example.com>", **overrides}


def received_message(server):
    [envelope] = server.received
    return envelope, message_from_bytes(envelope["content"], policy=policy.default)


def test_chinese_headers_body_and_message_id(smtp_server):
    server = smtp_server()
    result = send_email(config(server.port), "张三 <zhangsan@example.org>", SUBJECT, TEXT)
    assert result.ok and result.error is None and not result.retryable
    envelope, msg = received_message(server)
    assert envelope["mail_from"] == "noreply@example.com"
    assert envelope["rcpt_tos"] == ["zhangsan@example.org"]
    # on the wire, headers are 7-bit (RFC 2047 encoded words), decoded back to the text
    raw_headers = envelope["content"].split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii() and b"=?utf-8?" in raw_headers
    assert msg["Subject"] == SUBJECT
    assert msg["From"].addresses[0].display_name == "AI面试通知"
    assert msg["From"].addresses[0].addr_spec == "noreply@example.com"
    assert msg["To"].addresses[0].display_name == "张三"
    assert msg["To"].addresses[0].addr_spec == "zhangsan@example.org"
    assert msg["Message-ID"] == result.message_id
    assert result.message_id.startswith("<") and result.message_id.endswith("@example.com>")
    assert msg["Date"]
    assert not msg.is_multipart()
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content().rstrip("\n") == TEXT


def test_plain_address_and_html_alternative(smtp_server):
    server = smtp_server()
    result = send_email(config(server.port), "hr@example.org", SUBJECT, TEXT, html=HTML)
    assert result.ok
    _, msg = received_message(server)
    assert msg["To"] == "hr@example.org"
    assert msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("plain",)).get_content().rstrip("\n") == TEXT
    assert msg.get_body(("html",)).get_content().rstrip("\n") == HTML


def test_each_message_gets_its_own_message_id(smtp_server):
    server = smtp_server()
    ids = {send_email(config(server.port), "a@example.org", "s", "t").message_id
           for _ in range(3)}
    assert len(ids) == 3 and len(server.received) == 3


def test_550_recipient_refused_is_final(smtp_server):
    server = smtp_server(rcpt_reply="550 5.1.1 <nobody@example.org>: User unknown")
    result = send_email(config(server.port), "nobody@example.org", SUBJECT, TEXT)
    assert (result.ok, result.retryable) == (False, False)
    assert "550" in result.error and "拒绝了收件人" in result.error
    assert server.received == []


def test_554_at_data_is_final(smtp_server):
    server = smtp_server(data_reply="554 5.7.1 Message rejected as spam")
    result = send_email(config(server.port), "a@example.org", SUBJECT, TEXT)
    assert (result.ok, result.retryable) == (False, False)
    assert "554" in result.error


def test_451_is_retryable(smtp_server):
    server = smtp_server(data_reply="451 4.3.0 Temporary local problem, try later")
    result = send_email(config(server.port), "a@example.org", SUBJECT, TEXT)
    assert (result.ok, result.retryable) == (False, True)
    assert "451" in result.error and "暂时" in result.error
    assert result.message_id  # kept so a log line can be matched with the server's


def test_450_mailbox_busy_at_rcpt_is_retryable(smtp_server):
    server = smtp_server(rcpt_reply="450 4.2.1 Mailbox busy")
    result = send_email(config(server.port), "a@example.org", SUBJECT, TEXT)
    assert (result.ok, result.retryable) == (False, True)


def test_unreachable_host_is_retryable():
    result = send_email(config(free_port(), SMTP_TIMEOUT=2), "a@example.org", SUBJECT, TEXT)
    assert (result.ok, result.retryable) == (False, True)
    assert "无法连接邮件服务器" in result.error


def test_silent_server_times_out_and_is_retryable():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection in the kernel, never greets
    try:
        result = send_email(config(listener.getsockname()[1], SMTP_TIMEOUT=0.5),
                            "a@example.org", SUBJECT, TEXT)
    finally:
        listener.close()
    assert (result.ok, result.retryable) == (False, True)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_login(smtp_server):
    server = smtp_server(auth_required=True)
    ok = send_email(config(server.port, SMTP_USER="mailer", SMTP_PASSWORD="s3cret"),
                    "a@example.org", SUBJECT, TEXT)
    assert ok.ok and server.received[0]["authenticated"]
    wrong = send_email(config(server.port, SMTP_USER="mailer", SMTP_PASSWORD="nope"),
                       "a@example.org", SUBJECT, TEXT)
    assert (wrong.ok, wrong.retryable) == (False, False)
    assert "535" in wrong.error
    anonymous = send_email(config(server.port), "a@example.org", SUBJECT, TEXT)
    assert (anonymous.ok, anonymous.retryable) == (False, False)  # 530 authentication required
    assert len(server.received) == 1


def test_starttls_then_login(smtp_server, server_tls_context, tls_files):
    server = smtp_server(tls_context=server_tls_context, require_starttls=True,
                         auth_require_tls=True)
    cfg = config(server.port, SMTP_STARTTLS=True, SMTP_CA_FILE=tls_files[0],
                 SMTP_USER="mailer", SMTP_PASSWORD="s3cret")
    result = send_email(cfg, "a@example.org", SUBJECT, TEXT)
    assert result.ok, result.error
    assert server.received[0]["tls"] and server.received[0]["authenticated"]


def test_starttls_with_untrusted_certificate_fails(smtp_server, server_tls_context):
    server = smtp_server(tls_context=server_tls_context, require_starttls=True)
    result = send_email(config(server.port, SMTP_STARTTLS="true"), "a@example.org", SUBJECT,
                        TEXT)
    assert (result.ok, result.retryable) == (False, False)  # configuration, not luck
    assert "证书" in result.error and "CERTIFICATE_VERIFY_FAILED" in result.error
    assert server.received == []


def test_implicit_tls(smtp_server, server_tls_context, tls_files):
    server = smtp_server(ssl_context=server_tls_context)
    result = send_email(config(server.port, SMTP_SSL=True, SMTP_CA_FILE=tls_files[0]),
                        "a@example.org", SUBJECT, TEXT)
    assert result.ok, result.error
    assert server.received[0]["tls"]


@pytest.mark.parametrize("to", ["", "not-an-address", "a@", "@example.org", "a@b@c"])
def test_invalid_recipient_is_final_without_connecting(to):
    result = send_email(config(free_port()), to, SUBJECT, TEXT)
    assert result == EmailResult(False, None, result.error, False)
    assert "邮箱地址无效" in result.error


def test_missing_smtp_host_is_final():
    result = send_email({"MAIL_FROM": "x@example.com"}, "a@example.org", SUBJECT, TEXT)
    assert (result.ok, result.retryable) == (False, False)
    assert "SMTP_HOST" in result.error


def test_build_message_uses_default_sender():
    msg = build_message({}, "a@example.org", SUBJECT, TEXT)
    assert msg["From"].addresses[0].display_name == "AI面试通知"
    assert str(msg["Message-ID"]).endswith("@example.com>")


def test_concurrent_sends(smtp_server):
    server = smtp_server()
    results: list[EmailResult] = []

    def send(i: int):
        results.append(send_email(config(server.port), f"u{i}@example.org", f"{SUBJECT} #{i}",
                                  TEXT))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(results) == 5 and all(r.ok for r in results)
    assert len(server.received) == 5

