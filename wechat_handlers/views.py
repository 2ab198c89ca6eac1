"""WeChat push callbacks: /wechat/oa/callback (Official Account) and /wechat/mp/callback
(mini-program message push, XML).

GET answers WeChat's echostr check. POST accepts plain mode (`signature`) and safe mode
(`encrypt_type=aes`, `msg_signature`), dedupes WeChat's retries in Redis, routes the
message or event, and answers "success" fast. WeChat retries late, so old timestamps are
accepted. Other modules add routes for more events with `on_event`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import xmltodict
from flask import current_app, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from app.extensions import redis_store
from app.services.notifications import receipts as delivery
from wechat_handlers import bp

log = logging.getLogger(__name__)

DEDUPE_SECONDS = 600
MAX_BODY_BYTES = 256 * 1024  # WeChat's pushes are a few KB
# app -> config keys of (token, EncodingAESKey, appid)
CREDENTIALS = {
    "oa": ("WECHAT_OA_TOKEN", "WECHAT_OA_AES_KEY", "WECHAT_OA_APPID"),
    "mp": ("WECHAT_MP_TOKEN", "WECHAT_MP_AES_KEY", "WECHAT_MP_APPID"),
}

# (app, lower-case event or "msg:<type>") -> handlers(raw dict, xml text), in order of
# registration. A handler returns None, or the text of a passive reply to the sender
# (the first text returned is the reply; every handler still runs).
Handler = Callable[[dict, str], "str | None"]
HANDLERS: dict[tuple[str, str], list[Handler]] = {}


def on_event(app: str, name: str) -> Callable[[Handler], Handler]:
    """Register a handler for an event (e.g. "click") or a message type ("msg:text")."""
    def register(handler: Handler) -> Handler:
        HANDLERS.setdefault((app, name.lower()), []).append(handler)
        return handler
    return register


def _text(body: str, status: int = 200):
    return body, status, {"Content-Type": "text/plain; charset=utf-8"}


@bp.route("/oa/callback", methods=["GET", "POST"])
def oa_callback():
    return _callback("oa")


@bp.route("/mp/callback", methods=["GET", "POST"])
def mp_callback():
    return _callback("mp")


def _callback(app: str):
    args = request.args
    if request.method == "GET":
        if not _plain_signature_ok(app):
            return _text("invalid signature", 403)
        return _text(args.get("echostr", ""))
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _text("too large", 413)
    xml, error = _read_message(app)
    if error:
        return error
    try:
        raw = xmltodict.parse(xml)["xml"]
        if not isinstance(raw, dict):
            raise ValueError("empty message")
    except Exception:
        log.warning("unparsable %s callback body", app, exc_info=True)
        return _text("bad request", 400)

    seen_key = redis_store.key("wechat", "callback-seen", app, _dedupe_id(raw))
    if not redis_store.client.set(seen_key, "1", nx=True, ex=DEDUPE_SECONDS):
        return _text("success")  # WeChat's retry of a message already handled
    try:
        reply = _route(app, raw, xml)
    except Exception:
        redis_store.client.delete(seen_key)  # let WeChat's retry try again
        log.exception("%s callback handling failed", app)
        return _text("error", 500)
    if reply is None:
        return _text("success")
    return _passive_reply(app, raw, reply)


def _passive_reply(app: str, raw: dict, content: str):
    """A text reply to the sender, encrypted when the message came in safe mode."""
    xml = TextReply(source=raw.get("ToUserName"), target=raw.get("FromUserName"),
                    content=content).render()
    args = request.args
    if args.get("encrypt_type", "raw") == "aes":
        token_key, aes_key, appid_key = CREDENTIALS[app]
        cfg = current_app.config
        crypto = WeChatCrypto(cfg[token_key], cfg[aes_key], cfg[appid_key])
        xml = crypto.encrypt_message(xml, args.get("nonce", ""), args.get("timestamp"))
    return xml, 200, {"Content-Type": "application/xml; charset=utf-8"}


def _plain_signature_ok(app: str) -> bool:
    args = request.args
    try:
        check_signature(current_app.config[CREDENTIALS[app][0]], args.get("signature", ""),
                        args.get("timestamp", ""), args.get("nonce", ""))
    except InvalidSignatureException:
        return False
    return True


def _read_message(app: str):
    """(plaintext XML, None) or (None, error response) for plain or safe (AES) mode."""
    args = request.args
    if args.get("encrypt_type", "raw") != "aes":
        if not _plain_signature_ok(app):
            return None, _text("invalid signature", 403)
        return request.get_data(as_text=True), None
    token_key, aes_key, appid_key = CREDENTIALS[app]
    cfg = current_app.config
    crypto = WeChatCrypto(cfg[token_key], cfg[aes_key], cfg[appid_key])
    try:
        xml = crypto.decrypt_message(request.get_data(), args.get("msg_signature", ""),
                                     args.get("timestamp", ""), args.get("nonce", ""))
    except (InvalidSignatureException, InvalidAppIdException):
        return None, _text("invalid signature", 403)
    except Exception:  # malformed envelope or ciphertext
        log.warning("undecryptable %s callback", app, exc_info=True)
        return None, _text("bad request", 400)
    return xml, None


def _sent_items(raw: dict) -> list[dict]:
    """The List items of a subscribe_msg_* event (a dict for one item, a list for several)."""
    for name in ("SubscribeMsgSentEvent", "SubscribeMsgPopupEvent", "SubscribeMsgChangeEvent"):
        block = raw.get(name)
        if isinstance(block, dict):
            items = block.get("List")
            if isinstance(items, dict):
                return [items]
            if isinstance(items, list):
                return [i for i in items if isinstance(i, dict)]
    return []


def _dedupe_id(raw: dict) -> str:
    """MsgId for messages; MsgID(s) for delivery events; else FromUserName+CreateTime+Event."""
    if raw.get("MsgId"):
        return f"msg:{raw['MsgId']}"
    event = str(raw.get("Event") or "").lower()
    msgids = [str(raw["MsgID"])] if raw.get("MsgID") else []
    msgids += [str(i["MsgID"]) for i in _sent_items(raw) if i.get("MsgID")]
    if msgids:
        return f"evt:{event}:{','.join(msgids)}"
    return f"evt:{raw.get('FromUserName')}:{raw.get('CreateTime')}:{event}"


def _route(app: str, raw: dict, xml: str) -> str | None:
    msg_type = str(raw.get("MsgType") or "").lower()
    name = str(raw.get("Event") or "").lower() if msg_type == "event" else f"msg:{msg_type}"
    handlers = HANDLERS.get((app, name))
    if not handlers:
        log.info("%s callback: no handler for %s from %s", app, name, raw.get("FromUserName"))
        return None
    reply = None
    for handler in handlers:
        text = handler(raw, xml)
        if reply is None and text is not None:
            reply = text
    return reply


@on_event("oa", "templatesendjobfinish")
def _oa_template_finished(raw: dict, xml: str) -> None:
    message = parse_message(xml)
    status = message.status or ""
    changed = delivery.record_delivery(
        app="oa", msgid=str(raw.get("MsgID")), openid=message.source, template_id=None,
        ok=status == "success", errcode=None, status_text=status)
    log.info("oa delivery msgid=%s status=%s rows=%d", raw.get("MsgID"), status, changed)


@on_event("mp", "subscribe_msg_sent_event")
def _mp_subscribe_sent(raw: dict, xml: str) -> None:
    openid = raw.get("FromUserName")
    for item in _sent_items(raw):
        try:
            errcode = int(item.get("ErrorCode") or 0)
        except (TypeError, ValueError):
            errcode = -1
        status = str(item.get("ErrorStatus") or ("success" if errcode == 0 else ""))
        changed = delivery.record_delivery(
            app="mp", msgid=str(item.get("MsgID")), openid=openid,
            template_id=item.get("TemplateId"), ok=errcode == 0,
            errcode=None if errcode == 0 else errcode, status_text=status)
        log.info("mp delivery msgid=%s errcode=%s rows=%d", item.get("MsgID"), errcode, changed)
