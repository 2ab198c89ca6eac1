"""WeChat push callbacks: /wechat/oa/callback (Official Account) and /wechat/mp/callback
(mini-program message push, XML).

GET answers WeChat's echostr check. POST: `security.verified_message` (timestamp window,
the app's encryption mode and its signature, body cap, no DTD) -> parse -> dedupe
WeChat's retries in Redis -> the registered handlers -> `success` or a passive reply.
Handlers register with `on_event(app, name)`; the delivery, subscription and follower
handlers live in wechat_handlers/events.py.

Traps:
- WeChat waits 5 s, then retries (3 tries in all). A handler does a few quick writes;
  anything slow (WeChat API calls, messages to people) goes to the outbox or a job.
- Unknown message and event types answer `success`: WeChat would otherwise retry them
  and show the user "该公众号暂时无法提供服务".
- A refused request changes nothing and is logged by its code only (never the query).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import current_app, jsonify, request
from wechatpy.replies import TextReply

from app.core import counters
from app.core.errors import error_body
from app.extensions import redis_store
from app.wechat import callbacks
from wechat_handlers import bp
from wechat_handlers.parsing import UnsafeXml, dedupe_id, parse_xml
from wechat_handlers.security import Refused, check_plain_signature, verified_message

log = logging.getLogger(__name__)
SLOW_SECONDS = 2.0

# (app, lower-case event or "msg:<type>") -> handlers(raw dict, xml text), in order of
# registration. A handler returns None, or the text of a passive reply to the sender
# (the first text returned is the reply; every handler still runs).
Handler = Callable[[dict, str], "str | None"]
HANDLERS: dict[tuple[str, str], list[Handler]] = {}
# Handlers whose second run on the same message changes nothing (declared at
# registration). A message whose handlers all are skips the Redis dedupe: WeChat's
# retries and replays of it are harmless by construction (delivery results only move a
# row forward), and one round trip less is a fifth of a delivery callback's cost.
IDEMPOTENT: set[Handler] = set()


def on_event(app: str, name: str, *, idempotent: bool = False
             ) -> Callable[[Handler], Handler]:
    """Register a handler for an event (e.g. "click") or a message type ("msg:text").

    `idempotent=True` only for a handler that a retry or replay of the same message can
    run again without any effect (no credit, no reply, no message sent)."""
    def register(handler: Handler) -> Handler:
        HANDLERS.setdefault((app, name.lower()), []).append(handler)
        if idempotent:
            IDEMPOTENT.add(handler)
        return handler
    return register


def _needs_dedupe(app: str, raw: dict) -> bool:
    handlers = HANDLERS.get((app, _event_name(raw)))
    return bool(handlers) and not all(h in IDEMPOTENT for h in handlers)


def _text(body: str, status: int = 200):
    return body, status, {"Content-Type": "text/plain; charset=utf-8"}


def _refused(app: str, refusal: Refused):
    log.warning("%s callback refused: %s", app, refusal.code)
    counters.callback(app, counters.refusal_outcome(refusal.code))  # /metrics
    return jsonify(error_body(refusal.code, refusal.message)), refusal.status


@bp.route("/oa/callback", methods=["GET", "POST"])
def oa_callback():
    return _callback("oa")


@bp.route("/mp/callback", methods=["GET", "POST"])
def mp_callback():
    return _callback("mp")


def _callback(app: str):
    try:
        if request.method == "GET":
            check_plain_signature(app)
            counters.callback(app, "echo")
            return _text(request.args.get("echostr", ""))
        xml, encrypted = verified_message(app)
        try:
            raw = parse_xml(xml)
        except UnsafeXml:
            raise Refused(400, "bad_xml", "消息格式错误") from None
    except Refused as refusal:
        return _refused(app, refusal)

    seen_key = None
    if _needs_dedupe(app, raw):
        seen_key = redis_store.key("wechat", "callback-seen", app, dedupe_id(raw))
        ttl = current_app.config["WECHAT_CALLBACK_DEDUPE_SECONDS"]
        if not redis_store.client.set(seen_key, "1", nx=True, ex=ttl):
            counters.callback(app, "duplicate")
            return _text("success")  # WeChat's retry (or a replay) of a handled message
    started = time.monotonic()
    try:
        reply = _route(app, raw, xml)
    except Exception:
        if seen_key is not None:
            redis_store.client.delete(seen_key)  # let WeChat's retry try again
        log.exception("%s callback handling failed", app)
        counters.callback(app, "error")
        return _text("error", 500)
    took = time.monotonic() - started
    counters.callback(app, "accepted")
    if took > SLOW_SECONDS:  # a handler doing slow work inline: move it to the outbox
        log.warning("%s callback %s took %.1f s (WeChat gives up after 5 s)", app,
                    _event_name(raw), took)
    if reply is None:
        return _text("success")
    return _passive_reply(app, raw, reply, encrypted)


def _passive_reply(app: str, raw: dict, content: str, encrypted: bool | None = None):
    """A text reply to the sender, encrypted when the message came encrypted."""
    xml = TextReply(source=raw.get("ToUserName"), target=raw.get("FromUserName"),
                    content=content).render()
    args = request.args
    if encrypted is None:
        encrypted = args.get("encrypt_type", "raw").lower() == "aes"
    if encrypted:
        xml = callbacks.crypto(current_app.config, app).encrypt_message(
            xml, args.get("nonce", ""), args.get("timestamp"))
    return xml, 200, {"Content-Type": "application/xml; charset=utf-8"}


def _event_name(raw: dict) -> str:
    msg_type = str(raw.get("MsgType") or "").lower()
    return str(raw.get("Event") or "").lower() if msg_type == "event" else f"msg:{msg_type}"


def _route(app: str, raw: dict, xml: str) -> str | None:
    name = _event_name(raw)
    handlers = HANDLERS.get((app, name))
    if not handlers:
        log.info("%s callback: no handler for %s", app, name)
        return None
    reply = None
    for handler in handlers:
        text = handler(raw, xml)
        if reply is None and text is not None:
            reply = text
    return reply
