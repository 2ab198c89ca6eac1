"""No secret, token, signature, nonce or open token in any log line.

Installed by create_app as a log RECORD FACTORY, not as a filter: a filter on a logger
misses the records of its children, a filter on a handler misses handlers added later
(gunicorn's, pytest's); a record factory sees every record of every logger when it is
made, before any handler formats it. The message is formatted once, redacted, and kept
as the record's message (args emptied); an exception's text is formatted and redacted
the same way.

What is redacted:
- query parameters that carry credentials: access_token, token, t (the open token of
  /m/open), signature, msg_signature, nonce, echostr, code (wx.login), secret, password,
  key, invite, ... in URLs anywhere in the line (werkzeug's and gunicorn's access lines,
  urllib3's DEBUG lines of every WeChat call, which carry `?access_token=`);
- `Authorization: ...` and `Bearer ...`, our API keys (aiik_...), webhook signatures
  (sha256=...), 40- and 64-hex strings (WeChat's SHA-1 signatures, HMACs);
- `"token": "..."`-style pairs in logged dicts and JSON;
- the open token in the candidate API's path /notifications/<open_token>/open;
- every configured secret value (SECRET_KEY, app secrets, callback tokens, AES keys,
  provider keys, passwords, METRICS_TOKEN), wherever it appears.

Traps:
- The factory is process-wide: installing it twice (every create_app in a test run) must
  not wrap it twice; configured secrets of each app are added to one set.
- Redaction must never raise: a record whose message cannot be formatted is left to
  logging's own error report.
"""
from __future__ import annotations

import logging
import re
import threading

from flask import Flask

REDACTED = "[REDACTED]"

_QUERY_KEYS = ("access_token", "token", "t", "signature", "msg_signature", "nonce", "echostr",
               "code", "js_code", "secret", "appsecret", "password", "key", "api_key",
               "invite", "invite_token", "phone_code", "session_key", "open_token",
               "encrypt_msg", "sign", "ticket", "refresh_token")
_PAIR_KEYS = ("access_token", "token", "secret", "appsecret", "password", "session_key",
              "signature", "msg_signature", "nonce", "open_token", "api_key", "invite_token",
              "phone_code", "js_code", "refresh_token",
              "authorization", "secret_key", "SecretKey")
_PATTERNS: list[tuple[re.Pattern, str]] = [
    # Authorization: <scheme> <credentials> (headers logged as text or as a dict)
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)([^'\"\r\n,}]+)"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(bearer|basic|tc3-hmac-sha256)\s+[^\s'\",}]+"), r"\1 " + REDACTED),
    # query parameters: ?key=value&...
    (re.compile(r"(?i)([?&;\s]|^)(" + "|".join(_QUERY_KEYS) + r")=([^&\s'\"#]+)"),
     r"\1\2=" + REDACTED),
    # "key": "value" / 'key': 'value' / key=value pairs of logged dicts
    (re.compile(r"(?i)(['\"](?:" + "|".join(_PAIR_KEYS) + r")['\"]\s*:\s*['\"])([^'\"]+)"),
     r"\1" + REDACTED),
    # the candidate API's open-token path
    (re.compile(r"(/notifications/)([^/\s?]+)(/open)"), r"\1" + REDACTED + r"\3"),
    # our API keys, webhook signatures, SHA-1 / SHA-256 hex digests
    (re.compile(r"\baiik_[A-Za-z0-9_\-]+"), REDACTED),
    (re.compile(r"(?i)\b(sha256|sha1)=[0-9a-f]{16,}"), r"\1=" + REDACTED),
    (re.compile(r"\b[0-9a-fA-F]{64}\b|\b[0-9a-fA-F]{40}\b"), REDACTED),
]

# Settings whose values are secrets; any key ending like these is one too.
SECRET_SUFFIXES = ("SECRET", "SECRET_KEY", "_TOKEN", "AES_KEY", "PASSWORD", "ENCRYPTION_KEY",
                   "SECRET_ID")
_MIN_SECRET_LENGTH = 6  # shorter values would redact ordinary words

_secrets: set[str] = set()
_secrets_pattern: re.Pattern | None = None
_lock = threading.Lock()
_installed = False


def redact(text: str) -> str:
    """The text with every credential replaced by [REDACTED]."""
    pattern = _secrets_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for regex, replacement in _PATTERNS:
        text = regex.sub(replacement, text)
    return text


def add_secrets(values) -> None:
    """Redact these exact values too (configured secrets)."""
    global _secrets_pattern
    with _lock:
        new = {str(v) for v in values if v and len(str(v)) >= _MIN_SECRET_LENGTH}
        if new <= _secrets:
            return
        _secrets.update(new)
        ordered = sorted(_secrets, key=len, reverse=True)  # longest first: no partial hits
        _secrets_pattern = re.compile("|".join(re.escape(v) for v in ordered))


def configured_secrets(config) -> list[str]:
    return [value for key, value in config.items()
            if isinstance(key, str) and key.endswith(SECRET_SUFFIXES)
            and isinstance(value, str)]


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:
        return
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        try:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        except Exception:
            pass
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install_factory() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs):
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def install(app: Flask) -> None:
    add_secrets(configured_secrets(app.config))
    install_factory()
