"""Emulator of Tencent Cloud SMS's HTTP API (dev/test only), mounted at /_sandbox/sms.

POST /_sandbox/sms/ answers SendSms as Tencent does: it verifies the TC3-HMAC-SHA256
signature with the secret key it knows for the SecretId (TENCENT_SECRET_ID /
TENCENT_SECRET_KEY, or the sandbox pair below), refuses timestamps more than 300 s
away, checks the request, and records each accepted number's message. Every answer is
HTTP 200 with {"Response": {..., "RequestId": ...}}, errors too.

Test interface (not Tencent's): GET/DELETE /messages, POST/DELETE /faults.
"""
from __future__ import annotations

import hmac
import json
import time
import uuid

from flask import Blueprint, current_app, jsonify, request

from app.channels.sms import tc3
from app.channels.sms.base import VARIABLE_MAX_CHARS, is_cn_mobile
from app.channels.sms.sandbox import state as sandbox
from app.channels.sms.tencent import ACTION, SERVICE, VERSION

bp = Blueprint("sms_sandbox", __name__)

SANDBOX_SECRET_ID = "AKIDsandboxSms0000000000000000000000"
SANDBOX_SECRET_KEY = "sandbox-sms-secret-key-0000000000"
SANDBOX_SDK_APP_ID = "1400000000"
MAX_SKEW_SECONDS = 300
REGIONS = ("ap-guangzhou", "ap-beijing", "ap-nanjing")
MAX_NUMBERS = 200


def _answer(**fields):
    return jsonify({"Response": {**fields, "RequestId": str(uuid.uuid4())}})


def _error(code: str, message: str):
    return _answer(Error={"Code": code, "Message": message})


def _known_secret(secret_id: str) -> str | None:
    cfg = current_app.config
    pairs = {SANDBOX_SECRET_ID: SANDBOX_SECRET_KEY}
    if cfg.get("TENCENT_SECRET_ID") and cfg.get("TENCENT_SECRET_KEY"):
        pairs[cfg["TENCENT_SECRET_ID"]] = cfg["TENCENT_SECRET_KEY"]
    return pairs.get(secret_id)


def _check_signature(payload: bytes):
    """None when the request is signed correctly, else Tencent's AuthFailure answer."""
    auth = tc3.parse_authorization(request.headers.get("Authorization"))
    if auth is None:
        return _error("AuthFailure.InvalidAuthorization",
                      "Authorization header is not a valid TC3-HMAC-SHA256 header.")
    try:
        timestamp = int(request.headers.get("X-TC-Timestamp", ""))
    except ValueError:
        return _error("MissingParameter", "The request is missing a valid X-TC-Timestamp.")
    if abs(time.time() - timestamp) > MAX_SKEW_SECONDS:
        return _error("AuthFailure.SignatureExpire",
                      f"Signature expired. Timestamp {timestamp} is more than "
                      f"{MAX_SKEW_SECONDS} seconds away from server time.")
    secret_key = _known_secret(auth.secret_id)
    if secret_key is None:
        return _error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    if not {"content-type", "host"} <= set(auth.signed_headers):
        return _error("AuthFailure.SignatureFailure",
                      "SignedHeaders must include content-type and host.")
    if auth.service != SERVICE or auth.date != tc3.utc_date(timestamp):
        return _error("AuthFailure.SignatureFailure",
                      "Credential scope does not match the service or the timestamp's date.")
    signed = {name: request.headers.get(name, "") for name in auth.signed_headers}
    canonical, _ = tc3.canonical_request(request.method, signed, payload)
    expected = tc3.signature(secret_key, auth.date, auth.service,
                             tc3.string_to_sign(timestamp, auth.date, auth.service, canonical))
    if not hmac.compare_digest(expected, auth.signature):
        return _error("AuthFailure.SignatureFailure",
                      "The provided credentials could not be validated. "
                      "Please check your signature is correct.")
    return None


def _check_request(body):
    """None when SendSms's parameters are acceptable, else the error answer."""
    if not isinstance(body, dict):
        return _error("FailedOperation.JsonParseFail", "The request body is not a JSON object.")
    numbers = body.get("PhoneNumberSet")
    if not isinstance(numbers, list) or not numbers \
            or not all(isinstance(n, str) for n in numbers):
        return _error("MissingParameter", "PhoneNumberSet is required.")
    if len(numbers) > MAX_NUMBERS:
        return _error("LimitExceeded.PhoneNumberCountLimit",
                      f"At most {MAX_NUMBERS} numbers per request.")
    app_id = current_app.config.get("TENCENT_SMS_SDK_APP_ID") or SANDBOX_SDK_APP_ID
    if str(body.get("SmsSdkAppId")) != str(app_id):
        return _error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId does not exist.")
    if not str(body.get("TemplateId") or "").isdigit():
        return _error("FailedOperation.TemplateIncorrectOrUnapproved",
                      "The template is not approved or does not exist.")
    if not body.get("SignName"):
        return _error("FailedOperation.SignatureIncorrectOrUnapproved",
                      "The signature is not approved or has a wrong format.")
    params = body.get("TemplateParamSet", [])
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        return _error("InvalidParameterValue.TemplateParameterFormatError",
                      "TemplateParamSet must be a list of strings.")
    if any(len(p) > VARIABLE_MAX_CHARS for p in params):  # Tencent's rule for each variable
        return _error("InvalidParameterValue.TemplateParameterLengthLimit",
                      f"A template variable is longer than {VARIABLE_MAX_CHARS} characters.")
    return None


def _send_one(number: str, body: dict) -> dict:
    status = {"SerialNo": "", "PhoneNumber": number, "Fee": 0,
              "SessionContext": body.get("SessionContext", ""), "IsoCode": "CN"}
    if not is_cn_mobile(number):
        return {**status, "Code": "InvalidParameterValue.IncorrectPhoneNumber",
                "Message": "incorrect phone number", "IsoCode": "UNKNOWN"}
    fault = sandbox.take_fault(number, level="status")
    if fault is not None:
        return {**status, "Code": fault["code"], "Message": fault["message"]}
    message = sandbox.record_message(
        phone=number, template=str(body["TemplateId"]), params=body.get("TemplateParamSet", []),
        sign_name=body["SignName"], via="tencent-api",
        extra={"sdk_app_id": str(body["SmsSdkAppId"])})
    return {**status, "SerialNo": message["serial_no"], "Fee": 1, "Code": "Ok",
            "Message": "send success"}


@bp.post("/")
def tencent_api():
    payload = request.get_data()
    refused = _check_signature(payload)
    if refused is not None:
        return refused
    action = request.headers.get("X-TC-Action", "")
    if action != ACTION:
        return _error("InvalidAction", f"The action {action!r} is not supported.")
    if request.headers.get("X-TC-Version") != VERSION:
        return _error("NoSuchVersion", "The API version does not exist.")
    if request.headers.get("X-TC-Region") not in REGIONS:
        return _error("UnsupportedRegion", "The region is not supported.")
    try:
        body = json.loads(payload)
    except ValueError:
        body = None
    refused = _check_request(body)
    if refused is not None:
        return refused
    # Request-wide faults answer Response.Error (e.g. InternalError, RequestLimitExceeded).
    fault = sandbox.take_fault(body["PhoneNumberSet"][0], level="error")
    if fault is not None:
        return _error(fault["code"], fault["message"])
    return _answer(SendStatusSet=[_send_one(n, body) for n in body["PhoneNumberSet"]])


# --- test interface ---------------------------------------------------------------------

@bp.get("/messages")
def messages_list():
    return jsonify({"messages": sandbox.list_messages(request.args.get("phone") or None)})


@bp.delete("/messages")
def messages_clear():
    sandbox.clear_messages()
    return jsonify({"ok": True})


@bp.post("/faults")
def faults_set():
    body = request.get_json(silent=True) or {}
    code = body.get("code")
    times = body.get("times", 1)
    if not isinstance(code, str) or not code or not (times is None or isinstance(times, int)):
        return jsonify({"error": "code (string) is required; times must be an integer"}), 400
    try:
        fault = sandbox.set_fault(code, phone=body.get("phone"), message=body.get("message"),
                                  level=body.get("level", "status"), times=times)
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify({"ok": True, "fault": fault})


@bp.delete("/faults")
def faults_clear():
    sandbox.clear_faults()
    return jsonify({"ok": True})
