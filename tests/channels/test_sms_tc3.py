"""TC3-HMAC-SHA256 signing: a published known answer and an independent recomputation."""
from __future__ import annotations

import hashlib
import hmac
import json

from app.channels.sms import tc3
from app.channels.sms.tencent import TencentSmsProvider

# Tencent's "Signature v3" document, worked example (CVM DescribeInstances, POST JSON).
DOC_SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
DOC_TIMESTAMP = 1551113065
DOC_PAYLOAD = (b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], '
               b'"Name": "instance-name"}]}')
DOC_HASHED_PAYLOAD = "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
DOC_HASHED_CANONICAL = "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
DOC_SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


def test_published_example_step_by_step():
    headers = {"Content-Type": "application/json; charset=utf-8",
               "Host": "cvm.tencentcloudapi.com"}
    canonical, signed = tc3.canonical_request("POST", headers, DOC_PAYLOAD)
    assert signed == "content-type;host"
    assert canonical == ("POST\n/\n\ncontent-type:application/json; charset=utf-8\n"
                         "host:cvm.tencentcloudapi.com\n\ncontent-type;host\n"
                         + DOC_HASHED_PAYLOAD)
    assert tc3.utc_date(DOC_TIMESTAMP) == "2019-02-25"  # 2019-02-26 00:44 in UTC+8
    to_sign = tc3.string_to_sign(DOC_TIMESTAMP, "2019-02-25", "cvm", canonical)
    assert to_sign == ("TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
                       + DOC_HASHED_CANONICAL)
    assert tc3.signature(DOC_SECRET_KEY, "2019-02-25", "cvm", to_sign) == DOC_SIGNATURE


def test_published_example_authorization_header():
    value = tc3.authorization(
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", DOC_SECRET_KEY, service="cvm",
        timestamp=DOC_TIMESTAMP, payload=DOC_PAYLOAD,
        headers={"Content-Type": "application/json; charset=utf-8",
                 "Host": "cvm.tencentcloudapi.com"})
    assert value == ("TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/"
                     "2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
                     f"Signature={DOC_SIGNATURE}")


class RecordingSession:
    """Stands in for requests.Session to capture exactly what the adapter would send."""

    def __init__(self):
        self.sent = None

    def post(self, url, data, headers, timeout):
        self.sent = {"url": url, "data": data, "headers": headers}
        raise _Stop


class _Stop(Exception):
    pass


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def test_send_sms_request_recomputed_independently():
    """The adapter's SendSms headers equal a by-hand computation of Tencent's recipe."""
    session = RecordingSession()
    provider = TencentSmsProvider(secret_id="AKIDexample", secret_key="example-key",
                                  sdk_app_id="1400006666", sign_name="腾讯云",
                                  templates={"kind": "449739"}, session=session,
                                  clock=lambda: 1700000000.9)
    try:
        provider.send("138 0013 8000", "kind", ["张三", "3月15日"])
    except _Stop:
        pass
    sent = session.sent
    assert sent["url"] == "https://sms.tencentcloudapi.com/"
    body = json.loads(sent["data"])
    assert body == {"PhoneNumberSet": ["+8613800138000"], "SmsSdkAppId": "1400006666",
                    "SignName": "腾讯云", "TemplateId": "449739",
                    "TemplateParamSet": ["张三", "3月15日"]}
    h = sent["headers"]
    assert (h["X-TC-Action"], h["X-TC-Version"], h["X-TC-Region"], h["X-TC-Timestamp"]) == \
        ("SendSms", "2021-01-11", "ap-guangzhou", "1700000000")
    assert h["Host"] == "sms.tencentcloudapi.com"
    assert h["Content-Type"] == "application/json; charset=utf-8"

    # By hand, from the document: 1700000000 is 2023-11-14 22:13:20 UTC.
    canonical = ("POST\n/\n\n"
                 "content-type:application/json; charset=utf-8\n"
                 "host:sms.tencentcloudapi.com\n"
                 "x-tc-action:sendsms\n\n"
                 "content-type;host;x-tc-action\n"
                 + hashlib.sha256(sent["data"]).hexdigest())
    string_to_sign = ("TC3-HMAC-SHA256\n1700000000\n2023-11-14/sms/tc3_request\n"
                      + hashlib.sha256(canonical.encode()).hexdigest())
    secret_date = _hmac(b"TC3example-key", "2023-11-14")
    secret_service = _hmac(secret_date, "sms")
    secret_signing = _hmac(secret_service, "tc3_request")
    sig = hmac.new(secret_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()
    assert h["Authorization"] == (
        "TC3-HMAC-SHA256 Credential=AKIDexample/2023-11-14/sms/tc3_request, "
        f"SignedHeaders=content-type;host;x-tc-action, Signature={sig}")


def test_parse_authorization_round_trip_and_garbage():
    value = tc3.authorization("AKIDx", "k", service="sms", timestamp=DOC_TIMESTAMP,
                              headers={"Content-Type": "a", "Host": "h"}, payload=b"{}")
    parsed = tc3.parse_authorization(value)
    assert (parsed.secret_id, parsed.date, parsed.service, parsed.signed_headers) == \
        ("AKIDx", "2019-02-25", "sms", ["content-type", "host"])
    for bad in (None, "", "Basic abc", value.replace("TC3-HMAC-SHA256", "HMAC-SHA1"),
                value[:-1]):
        assert tc3.parse_authorization(bad) is None
