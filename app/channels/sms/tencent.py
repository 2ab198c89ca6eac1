"""Tencent Cloud SMS (API 3.0, SendSms 2021-01-11) over its documented HTTP API."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import requests

from app.channels.sms import codes, tc3
from app.channels.sms.base import (
    SmsConfigError,
    SmsResult,
    mask_phone,
    normalize_phone,
    template_params,
)

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com"
DEFAULT_REGION = "ap-guangzhou"
SERVICE = "sms"
ACTION = "SendSms"
VERSION = "2021-01-11"
CONTENT_TYPE = "application/json; charset=utf-8"


def _templates(value) -> dict[str, str]:
    """TENCENT_SMS_TEMPLATES as a dict (a JSON object string is accepted, from env)."""
    if not value:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise SmsConfigError("TENCENT_SMS_TEMPLATES must be a JSON object") from None
    if not isinstance(value, Mapping):
        raise SmsConfigError("TENCENT_SMS_TEMPLATES must map message kinds to template ids")
    return {str(k): str(v) for k, v in value.items()}


class TencentSmsProvider:
    """SMS_PROVIDER=tencent. `template_code` is a message kind looked up in `templates`
    (TENCENT_SMS_TEMPLATES), or a numeric Tencent template id used as is."""

    def __init__(self, *, secret_id: str, secret_key: str, sdk_app_id: str,
                 sign_name: str | None = None, templates: Mapping[str, str] | None = None,
                 endpoint: str = DEFAULT_ENDPOINT, region: str = DEFAULT_REGION,
                 timeout: float = 5.0, session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time):
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.sdk_app_id = str(sdk_app_id)
        self.sign_name = sign_name
        self.templates = dict(templates or {})
        self.url = endpoint.rstrip("/") + "/"
        self.host = urlsplit(self.url).netloc
        self.region = region
        self.timeout = timeout
        self.http = session or requests.Session()
        self.clock = clock

    @classmethod
    def from_config(cls, config) -> TencentSmsProvider:
        keys = ("TENCENT_SECRET_ID", "TENCENT_SECRET_KEY", "TENCENT_SMS_SDK_APP_ID",
                "TENCENT_SMS_SIGN_NAME")
        missing = [k for k in keys if not config.get(k)]
        if missing:
            raise SmsConfigError("SMS_PROVIDER=tencent needs: " + ", ".join(missing))
        return cls(secret_id=config["TENCENT_SECRET_ID"],
                   secret_key=config["TENCENT_SECRET_KEY"],
                   sdk_app_id=config["TENCENT_SMS_SDK_APP_ID"],
                   sign_name=config["TENCENT_SMS_SIGN_NAME"],
                   templates=_templates(config.get("TENCENT_SMS_TEMPLATES")),
                   endpoint=config.get("TENCENT_SMS_ENDPOINT") or DEFAULT_ENDPOINT,
                   region=config.get("TENCENT_SMS_REGION") or DEFAULT_REGION,
                   timeout=float(config.get("TENCENT_SMS_TIMEOUT", 5.0)))

    def template_id(self, template_code: str) -> str | None:
        if template_code in self.templates:
            return str(self.templates[template_code])
        return template_code if template_code.isdigit() else None

    def send(self, phone: str, template_code: str, params: list[str] | dict, *,
             sign_name: str | None = None) -> SmsResult:
        template_id = self.template_id(template_code)
        if template_id is None:
            return codes.result_for_code(codes.TEMPLATE_NOT_CONFIGURED, template_code)
        number = normalize_phone(phone)
        body = {"PhoneNumberSet": [number], "SmsSdkAppId": self.sdk_app_id,
                "SignName": sign_name or self.sign_name or "", "TemplateId": template_id,
                "TemplateParamSet": template_params(params)}
        try:
            answer = self.call(ACTION, body)
        except ValueError as exc:  # first: requests' JSONDecodeError is both
            log.warning("tencent sms to %s: unreadable answer: %s", mask_phone(number), exc)
            return codes.result_for_code(codes.BAD_RESPONSE, type(exc).__name__)
        except requests.RequestException as exc:
            log.warning("tencent sms to %s: %s", mask_phone(number), exc)
            return codes.result_for_code(codes.NETWORK_ERROR, type(exc).__name__)
        return self._result(answer, number)

    def call(self, action: str, body: dict) -> dict:
        """POST one signed API call; returns the "Response" object.

        Raises requests.RequestException when the endpoint cannot be reached or answers
        an HTTP error, ValueError when the answer is not Tencent's JSON.
        """
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(self.clock())
        signed = {"Content-Type": CONTENT_TYPE, "Host": self.host, "X-TC-Action": action}
        headers = {**signed,
                   "Authorization": tc3.authorization(
                       self.secret_id, self.secret_key, service=SERVICE,
                       timestamp=timestamp, headers=signed, payload=payload),
                   "X-TC-Timestamp": str(timestamp), "X-TC-Version": VERSION,
                   "X-TC-Region": self.region}
        res = self.http.post(self.url, data=payload, headers=headers, timeout=self.timeout)
        res.raise_for_status()
        answer = res.json().get("Response")  # raises ValueError if not JSON
        if not isinstance(answer, dict):
            raise ValueError("answer has no Response object")
        return answer

    def _result(self, answer: dict, number: str) -> SmsResult:
        error = answer.get("Error")
        if isinstance(error, dict):
            log.warning("tencent sms to %s refused: %s (request %s)", mask_phone(number),
                        error.get("Code"), answer.get("RequestId"))
            return codes.result_for_code(str(error.get("Code")), error.get("Message"))
        statuses = answer.get("SendStatusSet") or []
        status = next((s for s in statuses if s.get("PhoneNumber") == number),
                      statuses[0] if statuses else None)
        if not isinstance(status, dict):
            return codes.result_for_code(codes.BAD_RESPONSE, "empty SendStatusSet")
        code = str(status.get("Code"))
        if code != codes.OK:
            return codes.result_for_code(code, status.get("Message"))
        return SmsResult(True, status.get("SerialNo"), codes.OK, codes.explain(codes.OK), False)
