"""Tencent Cloud API 3.0 request signing (TC3-HMAC-SHA256), with hmac and hashlib only.

Follows Tencent's "Signature v3" document step by step: canonical request, string to
sign, derived keys (SecretDate -> SecretService -> SecretSigning), Authorization header.
The sandbox verifies requests with the same functions, reading the headers it received.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

ALGORITHM = "TC3-HMAC-SHA256"
TERMINATOR = "tc3_request"
_AUTH_RE = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<secret_id>[^/,\s]+)/(?P<date>\d{4}-\d{2}-\d{2})/"
    r"(?P<service>[a-z0-9-]+)/tc3_request, SignedHeaders=(?P<signed>[a-z0-9;_-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$")


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def utc_date(timestamp: int) -> str:
    """Credential date: the UTC day of the timestamp (never local time)."""
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")


def canonical_request(method: str, headers: Mapping[str, str], payload: bytes, *,
                      uri: str = "/", query: str = "") -> tuple[str, str]:
    """(CanonicalRequest, SignedHeaders) for the headers to sign.

    Header keys and values are lowercased and trimmed, sorted by key.
    """
    items = sorted((k.strip().lower(), v.strip().lower()) for k, v in headers.items())
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in items)
    signed_headers = ";".join(k for k, _ in items)
    request = "\n".join([method.upper(), uri, query, canonical_headers, signed_headers,
                         sha256_hex(payload)])
    return request, signed_headers


def string_to_sign(timestamp: int, date: str, service: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, str(int(timestamp)), f"{date}/{service}/{TERMINATOR}",
                      sha256_hex(canonical)])


def signing_key(secret_key: str, date: str, service: str) -> bytes:
    """SecretSigning = HMAC(HMAC(HMAC("TC3" + SecretKey, Date), Service), "tc3_request")."""
    secret_date = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    secret_service = _hmac(secret_date, service)
    return _hmac(secret_service, TERMINATOR)


def signature(secret_key: str, date: str, service: str, to_sign: str) -> str:
    return hmac.new(signing_key(secret_key, date, service), to_sign.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def authorization(secret_id: str, secret_key: str, *, service: str, timestamp: int,
                  headers: Mapping[str, str], payload: bytes, method: str = "POST") -> str:
    """The Authorization header value for a request carrying `headers` (those signed)."""
    date = utc_date(timestamp)
    canonical, signed_headers = canonical_request(method, headers, payload)
    sig = signature(secret_key, date, service,
                    string_to_sign(timestamp, date, service, canonical))
    return (f"{ALGORITHM} Credential={secret_id}/{date}/{service}/{TERMINATOR}, "
            f"SignedHeaders={signed_headers}, Signature={sig}")


@dataclass(frozen=True)
class ParsedAuthorization:
    secret_id: str
    date: str
    service: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str | None) -> ParsedAuthorization | None:
    """Split an Authorization header; None when it is not a TC3 header."""
    match = _AUTH_RE.match((value or "").strip())
    if match is None:
        return None
    return ParsedAuthorization(match["secret_id"], match["date"], match["service"],
                               match["signed"].split(";"), match["signature"])
