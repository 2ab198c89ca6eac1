"""Personal data at rest: Fernet encryption plus a keyed hash for equality lookups."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def _fernet() -> Fernet:
    return Fernet(current_app.config["DATA_ENCRYPTION_KEY"])


def encrypt(value: str | None) -> str | None:
    if value is None:
        return None
    return _fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:  # key rotated without re-encryption, or tampering
        raise ValueError("cannot decrypt personal data with the configured key") from exc


def normalize_phone(phone: str) -> str:
    """Keep digits only, drop a leading +86/86 country code."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def lookup_hash(value: str) -> str:
    """HMAC-SHA256 keyed by a key derived from DATA_ENCRYPTION_KEY (never the key itself)."""
    master = current_app.config["DATA_ENCRYPTION_KEY"].encode("ascii")
    key = hmac.new(master, b"lookup-hash-v1", hashlib.sha256).digest()
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def phone_lookup_hash(phone: str) -> str:
    return lookup_hash("phone:" + normalize_phone(phone))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(nbytes: int = 24) -> str:
    """A random URL-safe token that never starts with "-": one in 64 would, and an export
    then neutralises it as a formula (a leading "'" in the CSV cell HR copies into a
    message), and a shell reads it as an option."""
    while True:
        token = secrets.token_urlsafe(nbytes)
        if not token.startswith("-"):
            return token


def new_tokens(count: int, nbytes: int = 24) -> list[str]:
    """`count` tokens as new_token(nbytes) makes them, from one read of the system's
    randomness (a batch queues thousands of messages, each with its own token: one
    token_urlsafe call each was a tenth of its Python time)."""
    if nbytes % 3:  # base64 of a multiple of 3 bytes splits into whole tokens only
        return [new_token(nbytes) for _ in range(count)]
    width = nbytes // 3 * 4
    text = base64.urlsafe_b64encode(secrets.token_bytes(nbytes * count)).decode("ascii")
    return [token if token[0] != "-" else new_token(nbytes)
            for token in (text[i:i + width] for i in range(0, len(text), width))]


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"
