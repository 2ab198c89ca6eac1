"""E-mail channel: one message over SMTP (smtplib), UTF-8 throughout.

Chinese subjects and display names are encoded per RFC 2047 by the e-mail package; the
body is UTF-8 text (plus an optional HTML alternative) in base64, so any server relays it.
Config: SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS, SMTP_SSL,
SMTP_TIMEOUT, SMTP_CA_FILE, MAIL_FROM.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr

log = logging.getLogger(__name__)

DEFAULT_MAIL_FROM = "AI面试通知 <noreply@example.com>"
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class EmailResult:
    """Outcome of one send: `error` is a Chinese explanation HR can read."""

    ok: bool
    message_id: str | None
    error: str | None
    retryable: bool


def _bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _address(value: str) -> tuple[str, str] | None:
    """(display name, addr-spec) of one mailbox, or None if it is not one."""
    name, addr = parseaddr(value or "")
    if not addr or addr.count("@") != 1 or not all(addr.split("@")):
        return None
    try:
        Address(addr_spec=addr)
    except (ValueError, IndexError):
        return None
    return name, addr


def build_message(config, to: str, subject: str, text: str, html: str | None = None
                  ) -> EmailMessage:
    """The message as it will be sent: From MAIL_FROM, To `to`, a fresh Message-ID."""
    sender = _address(config.get("MAIL_FROM") or DEFAULT_MAIL_FROM)
    recipient = _address(to)
    if sender is None:
        raise ValueError(f"MAIL_FROM is not an e-mail address: {config.get('MAIL_FROM')!r}")
    if recipient is None:
        raise ValueError(f"not an e-mail address: {to!r}")
    msg = EmailMessage()
    msg["From"] = formataddr(sender, charset="utf-8")
    msg["To"] = formataddr(recipient, charset="utf-8")
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender[1].rsplit("@", 1)[1])
    msg.set_content(text, charset="utf-8", cte="base64")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    return msg


def _connect(config) -> smtplib.SMTP:
    host = config.get("SMTP_HOST")
    use_ssl = _bool(config.get("SMTP_SSL", False))
    starttls = _bool(config.get("SMTP_STARTTLS", False))
    port = int(config.get("SMTP_PORT") or (465 if use_ssl else 587 if starttls else 25))
    timeout = float(config.get("SMTP_TIMEOUT") or DEFAULT_TIMEOUT)
    context = None
    if use_ssl or starttls:
        context = ssl.create_default_context(cafile=config.get("SMTP_CA_FILE") or None)
    if use_ssl:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if starttls and not use_ssl:
            smtp.ehlo()
            smtp.starttls(context=context)
            smtp.ehlo()
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _reply_failure(code: int, reply: bytes | str, what: str) -> tuple[str, bool]:
    """(Chinese error, retryable) for an SMTP reply: 4xx transient, 5xx final."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    retryable = not 500 <= code < 600
    kind = "暂时" if retryable else ""
    return f"邮件服务器{kind}{what}（{code} {text}）", retryable


def send_email(config, to: str, subject: str, text: str, html: str | None = None
               ) -> EmailResult:
    """Send one e-mail to `to`; never raises for SMTP, network or address problems."""
    if not config.get("SMTP_HOST"):
        return EmailResult(False, None, "未配置邮件服务器（SMTP_HOST）", False)
    try:
        msg = build_message(config, to, subject, text, html)
    except ValueError as exc:
        return EmailResult(False, None, f"邮箱地址无效：{exc}", False)
    message_id = msg["Message-ID"]
    try:
        smtp = _connect(config)
        try:
            refused = smtp.send_message(msg)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        error, retryable = _reply_failure(code, reply, "拒绝了收件人")
    except smtplib.SMTPSenderRefused as exc:
        error, retryable = _reply_failure(exc.smtp_code, exc.smtp_error, "拒绝了发件人")
    except smtplib.SMTPAuthenticationError as exc:
        error, retryable = _reply_failure(exc.smtp_code, exc.smtp_error,
                                          "拒绝了登录，请检查账号密码")
    except smtplib.SMTPResponseException as exc:
        error, retryable = _reply_failure(exc.smtp_code, exc.smtp_error, "拒绝了邮件")
    except smtplib.SMTPNotSupportedError as exc:
        error, retryable = f"邮件服务器不支持所需功能，请检查SMTP配置（{exc}）", False
    except ssl.SSLCertVerificationError as exc:  # a configuration problem: retrying won't fix it
        error, retryable = f"邮件服务器证书校验失败，请检查SMTP配置（{exc}）", False
    except (smtplib.SMTPException, OSError) as exc:  # refused, timeout, TLS, disconnect
        error, retryable = f"无法连接邮件服务器（{type(exc).__name__}: {exc}）", True
    else:
        if refused:  # only part of the recipients refused; we send to one, so unreachable
            code, reply = next(iter(refused.values()))
            error, retryable = _reply_failure(code, reply, "拒绝了收件人")
        else:
            return EmailResult(True, message_id, None, False)
    log.warning("e-mail %s not sent (retryable=%s): %s", message_id, retryable, error)
    return EmailResult(False, message_id, error, retryable)
