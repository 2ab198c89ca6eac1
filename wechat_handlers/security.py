"""What a callback request must prove before anything reads it: a fresh timestamp, the
signature its app's encryption mode requires, a small body, and XML without declarations.

`verified_message(app)` returns the plaintext XML and whether it came encrypted, or raises
`Refused` (HTTP status + stable code + Chinese message). Order matters: the checks that
need no body run first, the body is read with Flask's per-request limit (Werkzeug's
LimitedStream enforces it for chunked bodies too, so a huge body is never buffered), and
nothing parses a byte before it is known small and declaration-free.

Traps:
- Never log the query string or its values: `signature`, `msg_signature`, `nonce` and
  `timestamp` of one URL are all a forger needs in plain mode.
- In safe mode the URL's plain `signature` means nothing (it covers no body); only
  `msg_signature` over the ciphertext counts, compared in constant time.
- The timestamp window applies in every mode and to GET too; WeChat's retries come within
  seconds with the same timestamp, and the dedupe window outlasts the timestamp window,
  so a replay is either refused as stale or recognised as already handled.
"""
from __future__ import annotations

import hmac
import time

from flask import current_app, request
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import WeChatSigner
from werkzeug.exceptions import RequestEntityTooLarge

from app.wechat import callbacks
from wechat_handlers.parsing import UnsafeXml, parse_xml, refuse_declarations


class Refused(Exception):
    """A callback request that is not WeChat's (or not acceptable): refuse, change nothing."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


def now() -> float:
    """Wall clock of the timestamp check (WeChat signs its real time)."""
    return time.time()


def _signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), (given or "").encode())


def check_fresh(timestamp: str) -> None:
    window = current_app.config["WECHAT_CALLBACK_TIMESTAMP_WINDOW"]
    try:
        value = int(timestamp)
    except (TypeError, ValueError):
        raise Refused(403, "invalid_timestamp", "时间戳缺失或格式错误") from None
    if abs(now() - value) > window:
        raise Refused(403, "stale_timestamp", "时间戳超出允许的时间范围")


def check_plain_signature(app: str) -> None:
    """GET and plaintext POST: sha1(token, timestamp, nonce) (covers no body)."""
    args = request.args
    check_fresh(args.get("timestamp", ""))
    expected = _signature(callbacks.token(current_app.config, app),
                          args.get("timestamp", ""), args.get("nonce", ""))
    if not _same(expected, args.get("signature", "")):
        raise Refused(403, "invalid_signature", "签名校验失败")


def read_body() -> bytes:
    """The body, read only up to one byte past the configured cap (413 beyond it).

    Werkzeug stops a chunked body at max_content_length without failing (the view would
    see it cut at the cap), so the limit is the cap plus one byte and a body that long
    is refused; a declared Content-Length past it is refused before a byte is read."""
    cap = current_app.config["WECHAT_CALLBACK_MAX_BYTES"]
    request.max_content_length = cap + 1
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        body = None
    if body is None or len(body) > cap:
        raise Refused(413, "payload_too_large", "消息体过大")
    return body


def verified_message(app: str) -> tuple[str, bool]:
    """(plaintext XML, came encrypted) of a POST that passed every check, else Refused."""
    cfg = current_app.config
    mode = callbacks.encrypt_mode(cfg, app)
    args = request.args
    encrypted = args.get("encrypt_type", "raw").lower() == "aes"
    if encrypted and mode == "plain":
        raise Refused(403, "encryption_not_configured", "该应用未启用消息加密")
    if not encrypted:
        if mode == "safe":
            raise Refused(403, "plaintext_refused", "安全模式下只接受加密消息")
        check_plain_signature(app)
        body = read_body()
        try:
            refuse_declarations(body)
            return body.decode("utf-8"), False
        except (UnsafeXml, UnicodeDecodeError):
            raise Refused(400, "bad_xml", "消息格式错误") from None
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    check_fresh(timestamp)
    body = read_body()
    try:
        envelope = parse_xml(body)
    except UnsafeXml:
        raise Refused(400, "bad_xml", "消息格式错误") from None
    ciphertext = envelope.get("Encrypt")
    if not isinstance(ciphertext, str) or not ciphertext:
        raise Refused(400, "bad_xml", "消息格式错误")
    expected = _signature(callbacks.token(cfg, app), timestamp, nonce, ciphertext)
    if not _same(expected, args.get("msg_signature", "")):
        raise Refused(403, "invalid_signature", "签名校验失败")
    try:
        xml = callbacks.crypto(cfg, app).decrypt_message(
            {"Encrypt": ciphertext}, expected, timestamp, nonce)
    except (InvalidSignatureException, InvalidAppIdException):
        raise Refused(403, "invalid_signature", "签名校验失败") from None
    except Exception:  # malformed ciphertext or padding
        raise Refused(400, "bad_ciphertext", "消息解密失败") from None
    return xml, True
