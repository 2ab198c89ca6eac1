"""Delivery events pushed to OUR callbacks, signed and encrypted exactly as WeChat does.

Mini program: subscribe_msg_sent_event to {PUBLIC_BASE_URL}/wechat/mp/callback.
Official Account: TEMPLATESENDJOBFINISH to {PUBLIC_BASE_URL}/wechat/oa/callback.
Safe mode (AES): the body is `<xml><ToUserName/><Encrypt/></xml>`, the query carries
signature, timestamp, nonce, openid, encrypt_type=aes and msg_signature. Like WeChat,
the sandbox tries 3 times in all when our server answers non-200 or takes over 5 s.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from xml.sax.saxutils import escape

import requests
import xmltodict
from flask import current_app
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from app.wechat.sandbox import faults, state

log = logging.getLogger(__name__)

ATTEMPTS = 3
CALLBACK_TIMEOUT = 5.0
AUTO_PUSH_DELAY = 0.3

# app -> (callback path, config keys of token / AES key / appid)
APPS = {
    "mp": ("/wechat/mp/callback", "WECHAT_MP_TOKEN", "WECHAT_MP_AES_KEY", "WECHAT_MP_APPID"),
    "oa": ("/wechat/oa/callback", "WECHAT_OA_TOKEN", "WECHAT_OA_AES_KEY", "WECHAT_OA_APPID"),
}
# Sandbox choice of ErrorCode for failed subscribe message deliveries (WeChat documents
# only "0 = success"); an explicit error_code always wins.
MP_FAILURE_CODES = {"user block": 10005, "system failed": 10001}


def original_id(app_name: str) -> str:
    """The app's gh_ original id (config WECHAT_MP/OA_ORIGINAL_ID, else derived)."""
    cfg = current_app.config
    configured = cfg.get(f"WECHAT_{app_name.upper()}_ORIGINAL_ID")
    if configured:
        return configured
    appid = cfg[APPS[app_name][3]]
    return "gh_" + hashlib.sha1(appid.encode()).hexdigest()[:12]


def _cdata(value: object) -> str:
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def mp_error_code(status: str, error_code: int | None) -> int:
    if error_code is not None:
        return int(error_code)
    if status == "success":
        return 0
    for marker, code in MP_FAILURE_CODES.items():
        if marker in status:
            return code
    return 10001


def event_xml(message: dict, status: str, error_code: int | None, create_time: int) -> str:
    """The plaintext event XML for one recorded message."""
    head = (f"<ToUserName>{_cdata(original_id(message['app']))}</ToUserName>"
            f"<FromUserName>{_cdata(message['touser'])}</FromUserName>"
            f"<CreateTime>{create_time}</CreateTime>"
            f"<MsgType>{_cdata('event')}</MsgType>")
    if message["app"] == "mp":
        body = (f"<Event>{_cdata('subscribe_msg_sent_event')}</Event>"
                "<SubscribeMsgSentEvent><List>"
                f"<TemplateId>{_cdata(message['template_id'])}</TemplateId>"
                f"<MsgID>{escape(str(message['msgid']))}</MsgID>"
                f"<ErrorCode>{mp_error_code(status, error_code)}</ErrorCode>"
                f"<ErrorStatus>{_cdata(status)}</ErrorStatus>"
                "</List></SubscribeMsgSentEvent>")
    else:
        body = (f"<Event>{_cdata('TEMPLATESENDJOBFINISH')}</Event>"
                f"<MsgID>{escape(str(message['msgid']))}</MsgID>"
                f"<Status>{_cdata(status)}</Status>")
    return f"<xml>{head}{body}</xml>"


def signed_request(app_name: str, plaintext: str, openid: str,
                   timestamp: str | None = None, nonce: str | None = None) -> tuple[str, dict, str]:
    """(url, query params, body) of a safe-mode push of `plaintext`, as WeChat builds it."""
    path, token_key, aes_key, appid_key = APPS[app_name]
    cfg = current_app.config
    timestamp = timestamp or str(int(state.now()))
    nonce = nonce or str(secrets.randbelow(10**10))
    crypto = WeChatCrypto(cfg[token_key], cfg[aes_key], cfg[appid_key])
    envelope = xmltodict.parse(crypto.encrypt_message(plaintext, nonce, timestamp))["xml"]
    signer = WeChatSigner()
    signer.add_data(cfg[token_key], timestamp, nonce)
    params = {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce,
              "openid": openid, "encrypt_type": "aes",
              "msg_signature": envelope["MsgSignature"]}
    body = (f"<xml><ToUserName>{_cdata(original_id(app_name))}</ToUserName>"
            f"<Encrypt>{_cdata(envelope['Encrypt'])}</Encrypt></xml>")
    url = cfg["PUBLIC_BASE_URL"].rstrip("/") + path
    return url, params, body


def post_with_retries(url: str, params: dict, body: str) -> tuple[int | None, int]:
    """POST like WeChat: up to 3 tries on non-200 or timeout. (last HTTP status, tries)."""
    status = None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = requests.post(url, params=params, data=body.encode(),
                                     headers={"Content-Type": "text/xml"},
                                     timeout=CALLBACK_TIMEOUT)
            status = response.status_code
            if status == 200:
                return status, attempt
        except requests.RequestException as exc:
            status = None
            log.info("sandbox push to %s failed (try %d): %s", url, attempt, exc)
    return status, ATTEMPTS


def push(message: dict, status: str = "success", error_code: int | None = None) -> dict:
    """Push the delivery event of a recorded message now; returns what happened."""
    create_time = int(state.now())
    plaintext = event_xml(message, status, error_code, create_time)
    url, params, body = signed_request(message["app"], plaintext, message["touser"])
    callback_status, attempts = post_with_retries(url, params, body)
    result = {"callback_status": callback_status, "attempts": attempts}
    state.update_message(message["msgid"], delivery={
        "status": status, "create_time": create_time, **result})
    return result


def schedule(message: dict) -> bool:
    """Auto push (SANDBOX_AUTO_PUSH, default on outside tests) ~0.3 s after a send."""
    app = current_app._get_current_object()
    if not app.config.get("SANDBOX_AUTO_PUSH", not app.testing):
        return False
    status = faults.delivery_status(message["api"], message["touser"]) or "success"

    def run() -> None:
        time.sleep(AUTO_PUSH_DELAY)
        with app.app_context():
            try:
                push(message, status)
            except Exception:  # a background push must never kill the process
                log.exception("sandbox auto push of msgid %s failed", message["msgid"])

    threading.Thread(target=run, name=f"sandbox-push-{message['msgid']}", daemon=True).start()
    return True
