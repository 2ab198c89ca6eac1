"""Official Account APIs for HR binding and replies, as the sandbox speaks them:
parametric QR codes (/cgi-bin/qrcode/create) and customer-service messages
(/cgi-bin/message/custom/send).

WeChat's rules kept here: a temporary QR code lives `expire_seconds` (default 60, at most
30 days); a string scene is 1-64 characters, a number scene a positive 32-bit integer (at
most 100000 for permanent codes). A customer-service message reaches only a follower who
interacted with the account (sent a message, tapped the menu, scanned, followed) within
the last 48 hours; after that WeChat answers 45015. Interactions are recorded by the test
interface that plays the user (oa_inbound.py), on the sandbox clock.
"""
from __future__ import annotations

import secrets

from app.wechat.sandbox import bp, state
from app.wechat.sandbox.responses import json_body, wx_error, wx_ok
from app.wechat.sandbox.routes import _fault_answer, wechat_api

QR_TEMPORARY = ("QR_SCENE", "QR_STR_SCENE")
QR_PERMANENT = ("QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE")
QR_DEFAULT_SECONDS = 60
QR_MAX_SECONDS = 30 * 86400
CUSTOMER_SERVICE_WINDOW = 48 * 3600
TEXT_MAX_BYTES = 2048
ERRMSG = {45015: "response out of time limit or subscription is canceled",
          45002: "content size out of limit", 44002: "empty post data",
          40053: "invalid action info", 40008: "invalid message type"}


# --- interactions (the 48-hour window) ------------------------------------------------

def record_interaction(openid: str) -> None:
    state.r().hset(state.key("oa-interaction"), openid, str(state.now()))


def last_interaction(openid: str) -> float | None:
    raw = state.r().hget(state.key("oa-interaction"), openid)
    return float(raw) if raw is not None else None


# --- parametric QR codes --------------------------------------------------------------

def ticket_of(url: str) -> str | None:
    """The ticket of the QR code whose content is `url` (what scanning it reads)."""
    return state.text(state.r().get(state.key("qr-url", url)))


def qr_scene(ticket: str) -> dict | None:
    """The scene of a ticket still valid on the sandbox clock, else None."""
    record = state.load(state.r().get(state.key("qr-ticket", ticket)))
    if record is None:
        return None
    if record["expires_at"] is not None and state.now() > record["expires_at"]:
        return None
    return record


def _scene_of(action: str, info: object) -> str | int | None:
    scene = info.get("scene") if isinstance(info, dict) else None
    if not isinstance(scene, dict):
        return None
    if action.endswith("STR_SCENE"):
        value = scene.get("scene_str")
        return value if isinstance(value, str) and 0 < len(value) <= 64 else None
    value = scene.get("scene_id")
    limit = 100000 if action == "QR_LIMIT_SCENE" else 2**32 - 1
    return value if isinstance(value, int) and 0 < value <= limit else None


@bp.post("/cgi-bin/qrcode/create")
@wechat_api("qrcode_create", "oa")
def qrcode_create():
    body = json_body()
    if body is None:
        return wx_error(47001)
    answer = _fault_answer("qrcode_create")
    if answer:
        return answer
    action = body.get("action_name")
    if action not in QR_TEMPORARY + QR_PERMANENT:
        return wx_error(40053, ERRMSG[40053])
    scene = _scene_of(action, body.get("action_info"))
    if scene is None:
        return wx_error(40053, ERRMSG[40053])
    expires_at = None
    expire_seconds = None
    if action in QR_TEMPORARY:
        expire_seconds = body.get("expire_seconds", QR_DEFAULT_SECONDS)
        if not isinstance(expire_seconds, int) or expire_seconds <= 0:
            expire_seconds = QR_DEFAULT_SECONDS
        expire_seconds = min(expire_seconds, QR_MAX_SECONDS)
        expires_at = state.now() + expire_seconds
    ticket = "gQ" + secrets.token_urlsafe(36)
    code = secrets.token_urlsafe(16)
    url = f"http://weixin.qq.com/q/{code}"
    ttl = (expire_seconds or QR_MAX_SECONDS) + state.DAY
    state.r().set(state.key("qr-ticket", ticket),
                  state.dump({"scene": str(scene), "expires_at": expires_at, "url": url}),
                  ex=ttl)
    state.r().set(state.key("qr-url", url), ticket, ex=ttl)  # what a phone's scan reads
    answer = {"ticket": ticket, "url": url}
    if expire_seconds is not None:
        answer["expire_seconds"] = expire_seconds
    return answer


# --- customer-service messages --------------------------------------------------------

@bp.post("/cgi-bin/message/custom/send")
@wechat_api("custom_send", "oa")
def custom_send():
    body = json_body()
    if body is None:
        return wx_error(44002, ERRMSG[44002])
    touser = body.get("touser")
    answer = _fault_answer("custom_send", touser)
    if answer:
        return answer
    if not state.is_user("oa", touser):
        return wx_error(40003)
    if body.get("msgtype") != "text":
        return wx_error(40008, ERRMSG[40008])
    text = body.get("text")
    content = text.get("content") if isinstance(text, dict) else None
    if not isinstance(content, str) or not content:
        return wx_error(44002, ERRMSG[44002])
    if len(content.encode()) > TEXT_MAX_BYTES:
        return wx_error(45002, ERRMSG[45002])
    last = last_interaction(touser)
    if last is None or state.now() - last > CUSTOMER_SERVICE_WINDOW:
        return wx_error(45015, ERRMSG[45015])
    message = {"api": "custom_send", "app": "oa", "touser": touser, "template_id": None,
               "msgtype": "text", "content": content, "data": None,
               "msgid": state.next_msgid(), "at": state.iso_now()}
    state.record_message(message)
    return wx_ok()
