"""The sandbox's test interface under /_sandbox/wechat (not part of WeChat's API).

Tests and outside checks drive the sandbox through these endpoints: what users did on
their phones (subscriptions, follows), what WeChat recorded (messages), what goes wrong
(faults), when delivery events are pushed, and the sandbox clock. Success answers carry
errcode 0 / errmsg "ok"; bad input answers HTTP 400 (unknown msgid: 404).
"""
from __future__ import annotations

import secrets

from flask import current_app, request

from app.wechat.sandbox import bp, faults, push, state, templates
from app.wechat.sandbox.responses import bad_request, json_body, wx_ok


def _openid(body: dict, name: str = "openid") -> str | None:
    value = body.get(name)
    if isinstance(value, str) and 0 < len(value) <= 64:
        return value
    return None


def _body() -> dict:
    return json_body() or {}


# --- messages WeChat accepted -----------------------------------------------------------

@bp.get("/messages")
def messages_list():
    return wx_ok(items=state.list_messages(request.args.get("touser") or None))


@bp.delete("/messages")
def messages_clear():
    state.clear_messages()
    return wx_ok()


# --- users, followers, subscriptions ----------------------------------------------------

def _register(app_name: str):
    body = _body()
    openid = _openid(body)
    if openid is None:
        return bad_request("openid must be a string of 1-64 characters")
    unionid = body.get("unionid")
    if unionid is not None and not isinstance(unionid, str):
        return bad_request("unionid must be a string")
    return wx_ok(openid=openid, unionid=state.register_user(app_name, openid, unionid or None))


@bp.post("/users")
def users_add():
    """A mini-program user (as if they had opened the mini program)."""
    return _register("mp")


@bp.get("/users")
def users_list():
    return wx_ok(items=state.users("mp"))


@bp.post("/followers")
def followers_add():
    """The openid follows the Official Account."""
    return _register("oa")


@bp.get("/followers")
def followers_list():
    return wx_ok(items=state.users("oa"))


@bp.delete("/followers")
def followers_remove():
    """Unfollow: `?openid=` (template messages to it then answer 43004)."""
    openid = request.args.get("openid") or _openid(_body())
    if not openid:
        return bad_request("openid is required")
    state.r().hdel(state.key("users", "oa"), openid)
    return wx_ok()


@bp.post("/subscriptions")
def subscriptions_add():
    """The user tapped 允许 for a template: one more message allowed."""
    body = _body()
    openid = _openid(body)
    if openid is None:
        return bad_request("openid must be a string of 1-64 characters")
    template = templates.find("mp", body.get("template_id"))
    if template is None:
        return bad_request("template_id is not a mini-program template", errcode=40037)
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        return bad_request("count must be an integer between 1 and 1000")
    state.register_user("mp", openid)
    credits = state.add_credit(openid, template.template_id, count)
    return wx_ok(openid=openid, template_id=template.template_id, credits=credits)


@bp.get("/subscriptions")
def subscriptions_list():
    return wx_ok(items=state.credits(request.args.get("openid") or None))


@bp.delete("/subscriptions")
def subscriptions_clear():
    state.r().delete(state.key("credits"))
    return wx_ok()


# --- faults -----------------------------------------------------------------------------

@bp.post("/faults")
def faults_add():
    try:
        fault = faults.add(_body())
    except faults.FaultError as exc:
        return bad_request(str(exc))
    return wx_ok(fault=fault)


@bp.get("/faults")
def faults_list():
    return wx_ok(items=faults.list_all())


@bp.delete("/faults")
def faults_clear():
    faults.clear()
    return wx_ok()


# --- delivery events --------------------------------------------------------------------

@bp.post("/deliveries")
def deliveries_push():
    """Push the delivery event of a recorded message now (synchronously)."""
    body = _body()
    message = state.get_message(body.get("msgid")) if body.get("msgid") is not None else None
    if message is None:
        return bad_request("no message with this msgid", status=404, errcode=40008)
    status = body.get("status")
    if status is None:
        status = faults.delivery_status(message["api"], message["touser"]) or "success"
    if not isinstance(status, str) or not status:
        return bad_request("status must be a string such as success or failed:user block")
    error_code = body.get("error_code")
    if error_code is not None and (isinstance(error_code, bool) or not isinstance(error_code, int)):
        return bad_request("error_code must be an integer")
    result = push.push(message, status, error_code)
    return wx_ok(msgid=message["msgid"], status=status, **result)


# --- menu, templates, phone codes -------------------------------------------------------

@bp.get("/menu")
def menu_show():
    return wx_ok(menu=state.load(state.r().get(state.key("menu"))))


@bp.get("/templates")
def templates_list():
    items = [t.as_dict() for app_name in ("mp", "oa")
             for t in templates.templates(app_name).values()]
    return wx_ok(items=items, released_pages=sorted(templates.RELEASED_PAGES))


@bp.post("/templates")
def templates_add():
    try:
        template = templates.register(_body())
    except ValueError as exc:
        return bad_request(str(exc))
    return wx_ok(template=template.as_dict())


@bp.delete("/templates")
def templates_clear():
    templates.clear_custom()
    return wx_ok()


@bp.post("/phone-codes")
def phone_codes_issue():
    """A getPhoneNumber code for `phone`, valid 5 minutes from now (sandbox clock)."""
    phone = _body().get("phone")
    if not isinstance(phone, str) or not phone.isdigit() or not 3 <= len(phone) <= 20:
        return bad_request("phone must be a string of 3-20 digits")
    code = f"sandbox-phone:{phone}:{secrets.token_hex(8)}"
    state.r().set(state.key("phone-code", code), state.now(), ex=state.DAY)
    return wx_ok(code=code, expires_in=300)


# --- clock, call counters, reset --------------------------------------------------------

@bp.get("/clock")
def clock_show():
    return wx_ok(now=state.now(), offset=state.clock_offset(), iso=state.iso_now())


@bp.post("/clock")
def clock_advance():
    """Move the sandbox clock forward: {"advance_seconds": n} (tokens, codes, windows)."""
    seconds = _body().get("advance_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        return bad_request("advance_seconds must be a non-negative number")
    offset = state.advance_clock(seconds)
    return wx_ok(now=state.now(), offset=offset)


@bp.delete("/clock")
def clock_reset():
    state.reset_clock()
    return wx_ok()


@bp.get("/calls")
def calls_show():
    return wx_ok(calls=state.calls())


@bp.delete("/calls")
def calls_clear():
    state.clear_calls()
    return wx_ok()


@bp.delete("/state")
def state_reset():
    """Forget everything: tokens, users, credits, messages, faults, menu, clock."""
    return wx_ok(deleted=state.reset_all(),
                 apps={"mp": current_app.config["WECHAT_MP_APPID"],
                       "oa": current_app.config["WECHAT_OA_APPID"]})
