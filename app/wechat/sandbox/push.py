"""Events pushed to OUR callbacks, signed and encrypted exactly as WeChat does.

Mini program: subscribe_msg_sent_event (delivery), subscribe_msg_popup_event (the user
tapped the subscription popup) and subscribe_msg_change_event (the user switched a
template in the settings) to {base}/wechat/mp/callback. Official Account:
TEMPLATESENDJOBFINISH to {base}/wechat/oa/callback (user actions: oa_inbound.py).
{base} is SANDBOX_PUSH_BASE_URL when set (a staging instance), else PUBLIC_BASE_URL.

The form follows the app's configured mode (app.wechat.callbacks), as WeChat's server
configuration does. Safe mode (AES): the body is `<xml><ToUserName/><Encrypt/></xml>`,
the query carries signature, timestamp, nonce, openid, encrypt_type=aes and
msg_signature. Like WeChat, the sandbox tries 3 times in all when our server answers
non-200 or takes over 5 s.

Trap: the query's timestamp is the real clock, never the sandbox clock that tests move:
our server refuses timestamps outside its window, as it must refuse WeChat's.
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
from wechatpy.utils import WeChatSigner

from app.wechat import callbacks
from app.wechat.sandbox import faults, state

log = logging.getLogger(__name__)

ATTEMPTS = 3
CALLBACK_TIMEOUT = 5.0
AUTO_PUSH_DELAY = 0.3

# Sandbox choice of ErrorCode for failed subscribe message deliveries (WeChat documents
# only "0 = success"); an explicit error_code always wins.
MP_FAILURE_CODES = {"user block": 10005, "system failed": 10001}


def original_id(app_name: str) -> str:
    """The app's gh_ original id (config WECHAT_MP/OA_ORIGINAL_ID, else derived)."""
    cfg = current_app.config
    configured = cfg.get(f"WECHAT_{app_name.upper()}_ORIGINAL_ID")
    if configured:
        return configured
    appid = cfg[callbacks.CREDENTIALS[app_name][2]]
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


def push_base_url() -> str:
    """Where pushes go: SANDBOX_PUSH_BASE_URL (another instance, for staging), else us."""
    cfg = current_app.config
    return (cfg.get("SANDBOX_PUSH_BASE_URL") or cfg["PUBLIC_BASE_URL"]).rstrip("/")


def signed_request(app_name: str, plaintext: str, openid: str,
                   timestamp: str | None = None, nonce: str | None = None) -> tuple[str, dict, str]:
    """(url, query params, body) of a push of `plaintext`, as WeChat builds it in the app's
    configured mode (app.wechat.callbacks.encrypt_mode):
    safe: `<xml><ToUserName/><Encrypt/></xml>` with encrypt_type=aes and msg_signature;
    compatible: the plaintext fields and Encrypt side by side, same query;
    plain: the plaintext with the plain signature only.
    The timestamp is the real clock (WeChat's; our server refuses stale ones), not the
    sandbox clock."""
    cfg = current_app.config
    mode = callbacks.encrypt_mode(cfg, app_name)
    token = callbacks.token(cfg, app_name)
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**10))
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    params = {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce,
              "openid": openid}
    url = push_base_url() + callbacks.CALLBACK_PATHS[app_name]
    if mode == "plain":
        return url, params, plaintext
    crypto = callbacks.crypto(cfg, app_name)
    envelope = xmltodict.parse(crypto.encrypt_message(plaintext, nonce, timestamp))["xml"]
    params.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
    encrypt = f"<Encrypt>{_cdata(envelope['Encrypt'])}</Encrypt>"
    if mode == "compatible":
        inner = plaintext.strip()
        body = inner[:inner.rindex("</xml>")] + encrypt + "</xml>"
    else:
        body = (f"<xml><ToUserName>{_cdata(original_id(app_name))}</ToUserName>"
                f"{encrypt}</xml>")
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
    result = push_xml(message["app"], plaintext, message["touser"])
    state.update_message(message["msgid"], delivery={
        "status": status, "create_time": create_time, **result})
    return result


SUBSCRIPTION_EVENTS = {"popup": ("subscribe_msg_popup_event", "SubscribeMsgPopupEvent"),
                       "change": ("subscribe_msg_change_event", "SubscribeMsgChangeEvent")}


def subscription_event_xml(openid: str, kind: str, results: dict[str, str],
                           create_time: int, popup_scene: int = 0) -> str:
    """subscribe_msg_popup_event / subscribe_msg_change_event for one user's templates."""
    event, block = SUBSCRIPTION_EVENTS[kind]
    items = ""
    for template_id, result in results.items():
        items += (f"<List><TemplateId>{_cdata(template_id)}</TemplateId>"
                  f"<SubscribeStatusString>{_cdata(result)}</SubscribeStatusString>")
        if kind == "popup":
            items += f"<PopupScene>{int(popup_scene)}</PopupScene>"
        items += "</List>"
    return (f"<xml><ToUserName>{_cdata(original_id('mp'))}</ToUserName>"
            f"<FromUserName>{_cdata(openid)}</FromUserName>"
            f"<CreateTime>{create_time}</CreateTime>"
            f"<MsgType>{_cdata('event')}</MsgType><Event>{_cdata(event)}</Event>"
            f"<{block}>{items}</{block}></xml>")


def push_xml(app_name: str, plaintext: str, openid: str) -> dict:
    """Push one event now, with WeChat's retries; {callback_status, attempts}."""
    url, params, body = signed_request(app_name, plaintext, openid)
    callback_status, attempts = post_with_retries(url, params, body)
    return {"callback_status": callback_status, "attempts": attempts}


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
