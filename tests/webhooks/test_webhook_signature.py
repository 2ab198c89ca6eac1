"""verify_signature: what receivers (the company's ATS / ERP / OA) run on each request."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from app.services.webhooks.sender import encode_body, sign, verify_signature

SECRET = "whsec_test-secret-0123456789"
BODY = encode_body({"event": "interview.cancelled", "candidate": {"name": "张三"}})
TS = 1710468000


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), b"1710468000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, TS, BODY) == "sha256=" + expected
    assert sign(SECRET, str(TS), BODY) == sign(SECRET, TS, BODY)
    assert BODY == '{"event":"interview.cancelled","candidate":{"name":"张三"}}'.encode()


def test_valid_signature_within_tolerance():
    signature = sign(SECRET, TS, BODY)
    assert verify_signature(SECRET, TS, BODY, signature, now=TS)
    assert verify_signature(SECRET, str(TS), BODY, signature, now=TS + 300)
    assert verify_signature(SECRET, TS, BODY, signature, now=TS - 300)  # clock skew
    assert verify_signature(SECRET, TS, BODY, signature, tolerance=None, now=TS + 10**6)


@pytest.mark.parametrize("case", ["stale", "future", "body", "secret", "timestamp",
                                  "no_prefix", "empty", "garbage_ts", "none_sig", "non_ascii"])
def test_invalid_signatures_are_refused(case):
    signature = sign(SECRET, TS, BODY)
    args = dict(secret=SECRET, timestamp=TS, body=BODY, signature=signature, now=TS)
    if case == "stale":
        args["now"] = TS + 301
    elif case == "future":
        args["now"] = TS - 301
    elif case == "body":
        args["body"] = BODY + b" "
    elif case == "secret":
        args["secret"] = SECRET + "x"
    elif case == "timestamp":
        args["timestamp"] = TS + 1
        args["now"] = TS + 1
    elif case == "no_prefix":
        args["signature"] = signature.removeprefix("sha256=")
    elif case == "empty":
        args["signature"] = ""
    elif case == "garbage_ts":
        args["timestamp"] = "yesterday"
    elif case == "none_sig":
        args["signature"] = None
    elif case == "non_ascii":
        args["signature"] = "sha256=签名"
    assert verify_signature(**args) is False
