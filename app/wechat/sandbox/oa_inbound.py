"""Test interface: a user does something in the Official Account, and the sandbox tells
our callback as WeChat would (POST /_sandbox/wechat/oa/inbound).

The message or event XML is built as WeChat builds it, encrypted and signed in safe mode
with wechatpy's WeChatCrypto (push.signed_request), and POSTed to
{PUBLIC_BASE_URL}/wechat/oa/callback; the passive reply is decrypted and returned, so a
test sees what the user's phone would show. Every action counts as an interaction for the
48-hour customer-service window.

Traps: the callback's timestamp is the real clock (our server refuses stale timestamps),
while the 48-hour window runs on the sandbox clock (tests move it). Scanning a QR code:
a follower sends SCAN with EventKey = the scene; someone who does not follow yet follows
by scanning: subscribe with EventKey = "qrscene_" + the scene (both carry the Ticket).
"""
from __future__ import annotations

import secrets
import time

import requests
import xmltodict
from flask import current_app
from wechatpy.crypto import WeChatCrypto

from app.wechat.sandbox import bp, oa_service, push, state
from app.wechat.sandbox.admin import _body, _openid
from app.wechat.sandbox.responses import bad_request, wx_ok

ACTIONS = ("text", "image", "click", "view", "scan", "subscribe", "unsubscribe")


def _cdata(value: object) -> str:
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def inbound_xml(openid: str, action: str, *, content: str = "", key: str = "",
                ticket: str | None = None, create_time: int | None = None,
                msgid: int | None = None) -> str:
    """The plaintext XML WeChat sends for one user action."""
    head = (f"<ToUserName>{_cdata(push.original_id('oa'))}</ToUserName>"
            f"<FromUserName>{_cdata(openid)}</FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>")
    if action == "text":
        return (f"<xml>{head}<MsgType>{_cdata('text')}</MsgType>"
                f"<Content>{_cdata(content)}</Content>"
                f"<MsgId>{msgid or state.next_msgid()}</MsgId></xml>")
    if action == "image":
        return (f"<xml>{head}<MsgType>{_cdata('image')}</MsgType>"
                f"<PicUrl>{_cdata('http://mmbiz.qpic.cn/sandbox.jpg')}</PicUrl>"
                f"<MediaId>{_cdata('sandbox-media-' + str(create_time or 0))}</MediaId>"
                f"<MsgId>{msgid or state.next_msgid()}</MsgId></xml>")
    event = {"click": "CLICK", "view": "VIEW", "scan": "SCAN", "subscribe": "subscribe",
             "unsubscribe": "unsubscribe"}[action]
    body = f"<Event>{_cdata(event)}</Event>"
    if action in ("click", "view", "scan") or (action == "subscribe" and key):
        body += f"<EventKey>{_cdata(key)}</EventKey>"
    if ticket:
        body += f"<Ticket>{_cdata(ticket)}</Ticket>"
    return f"<xml>{head}<MsgType>{_cdata('event')}</MsgType>{body}</xml>"


def deliver(openid: str, plaintext: str) -> dict:
    """POST one encrypted push to our OA callback; the HTTP status and the reply text."""
    url, params, body = push.signed_request("oa", plaintext, openid,
                                            timestamp=str(int(time.time())),
                                            nonce=str(secrets.randbelow(10**10)))
    response = requests.post(url, params=params, data=body.encode(),
                             headers={"Content-Type": "text/xml"},
                             timeout=push.CALLBACK_TIMEOUT)
    return {"callback_status": response.status_code,
            "reply_encrypted": "<Encrypt>" in response.text,
            "reply": decrypt_reply(response.text)}


def decrypt_reply(text: str) -> str | None:
    """The Content of an (encrypted) passive text reply; None for "success" / empty."""
    if not text or not text.lstrip().startswith("<"):
        return None
    cfg = current_app.config
    parsed = xmltodict.parse(text)["xml"]
    if "Encrypt" in parsed:
        crypto = WeChatCrypto(cfg["WECHAT_OA_TOKEN"], cfg["WECHAT_OA_AES_KEY"],
                              cfg["WECHAT_OA_APPID"])
        plain = crypto.decrypt_message(text, parsed["MsgSignature"], parsed["TimeStamp"],
                                       parsed["Nonce"])
        parsed = xmltodict.parse(plain)["xml"]
    return parsed.get("Content")


@bp.post("/oa/inbound")
def oa_inbound():
    """{openid, action: text|image|click|view|scan|subscribe|unsubscribe, content?, key?,
    ticket? or url? (scan)}: the user's action reaches our callback; answers its status
    and the reply the user sees."""
    body = _body()
    openid = _openid(body)
    action = body.get("action")
    if openid is None or action not in ACTIONS:
        return bad_request("openid and action (" + ", ".join(ACTIONS) + ") are required")
    content = body.get("content") if isinstance(body.get("content"), str) else ""
    key = body.get("key") if isinstance(body.get("key"), str) else ""
    ticket = body.get("ticket") if isinstance(body.get("ticket"), str) else None
    if action == "scan" and ticket is None and isinstance(body.get("url"), str):
        ticket = oa_service.ticket_of(body["url"])  # the QR code's content, as a phone reads it
    if action == "scan":
        scene = oa_service.qr_scene(ticket or "")
        if scene is None:
            return bad_request("unknown or expired QR ticket", status=404)
        if state.is_user("oa", openid):
            key = scene["scene"]
        else:  # scanning makes them follow: WeChat sends subscribe with the scene
            action, key = "subscribe", "qrscene_" + scene["scene"]
    if action == "subscribe":
        state.register_user("oa", openid)
    elif action == "unsubscribe":
        state.r().hdel(state.key("users", "oa"), openid)
    elif not state.is_user("oa", openid):
        return bad_request("only followers can message the Official Account", status=409)
    if action != "unsubscribe":
        oa_service.record_interaction(openid)
    plaintext = inbound_xml(openid, action, content=content, key=key, ticket=ticket)
    return wx_ok(sent=action, **deliver(openid, plaintext))
