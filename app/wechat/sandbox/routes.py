"""The WeChat HTTP API as the sandbox speaks it (mounted at /_sandbox/wechat).

Two apps exist: the mini program ("mp": WECHAT_MP_APPID/SECRET) and the Official Account
("oa": WECHAT_OA_APPID/SECRET). Every answer is WeChat's JSON with HTTP 200, errors too.
The test interface (/messages, /faults, ...) lives in admin.py.
"""
from __future__ import annotations

import base64
import re
import secrets
import time
from functools import wraps

from flask import current_app, request

from app.wechat.sandbox import bp, faults, push, rules, state, templates, tokens
from app.wechat.sandbox.responses import json_body, wx_error, wx_ok

MINIPROGRAM_STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")
JS_CODE_RE = re.compile(r"sandbox:([A-Za-z0-9_-]{1,64})(?::([A-Za-z0-9_.-]{1,64}))?")
PHONE_CODE_RE = re.compile(r"sandbox-phone:(\d{3,20})(?::([A-Za-z0-9_.-]{1,64}))?")
LOGIN_RATE_LIMIT = 100      # jscode2session calls per minute per openid
PHONE_CODE_TTL = 300        # a phone code is valid 5 minutes


def _app_of(appid: object) -> str | None:
    if not isinstance(appid, str):
        return None
    cfg = current_app.config
    return {cfg["WECHAT_MP_APPID"]: "mp", cfg["WECHAT_OA_APPID"]: "oa"}.get(appid)


def _secret_of(app_name: str) -> str:
    return current_app.config["WECHAT_MP_SECRET" if app_name == "mp" else "WECHAT_OA_SECRET"]


def _fault_answer(api: str, openid: object = None):
    """Apply the fault for this call, if any: sleep its latency, answer its errcode."""
    fault = faults.fire(api, openid if isinstance(openid, str) else None)
    if fault is None:
        return None
    if fault["latency_ms"]:
        time.sleep(fault["latency_ms"] / 1000)
    if fault["errcode"] is not None:
        return wx_error(fault["errcode"], fault["errmsg"])
    return None


def wechat_api(api: str, app_name: str | None = None):
    """Count the call and, for APIs taking ?access_token=, check it belongs to `app_name`."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            state.count_call(api)
            if app_name is not None:
                errcode = tokens.check(request.args.get("access_token"), app_name)
                if errcode:
                    return wx_error(errcode)
            return view(*args, **kwargs)
        return wrapper
    return decorate


def _credentials(grant_type: object, appid: object, secret: object):
    """(app name, None) or (None, error answer) for token requests."""
    if grant_type != "client_credential":
        return None, wx_error(40002)
    app_name = _app_of(appid)
    if app_name is None:
        return None, wx_error(40013)
    if secret != _secret_of(app_name):
        return None, wx_error(40125)
    return app_name, None


# --- access tokens ----------------------------------------------------------------------

@bp.get("/cgi-bin/token")
@wechat_api("token")
def get_token():
    args = request.args
    app_name, error = _credentials(args.get("grant_type"), args.get("appid"),
                                   args.get("secret"))
    if error:
        return error
    answer = _fault_answer("token")
    if answer:
        return answer
    token, expires_in = tokens.issue(app_name)
    return {"access_token": token, "expires_in": expires_in}


@bp.post("/cgi-bin/stable_token")
@wechat_api("stable_token")
def stable_token():
    body = json_body()
    if body is None:
        return wx_error(47001)
    app_name, error = _credentials(body.get("grant_type"), body.get("appid"),
                                   body.get("secret"))
    if error:
        return error
    answer = _fault_answer("stable_token")
    if answer:
        return answer
    force = body.get("force_refresh") in (True, "true", "True", 1, "1")
    token, expires_in = tokens.stable(app_name, force)
    return {"access_token": token, "expires_in": expires_in}


# --- mini program login and phone number ------------------------------------------------

@bp.get("/sns/jscode2session")
@wechat_api("jscode2session")
def jscode2session():
    args = request.args
    if _app_of(args.get("appid")) != "mp":
        return wx_error(40013)
    if args.get("secret") != _secret_of("mp"):
        return wx_error(40125)
    if args.get("grant_type") != "authorization_code":
        return wx_error(40002)
    match = JS_CODE_RE.fullmatch(args.get("js_code") or "")
    if not match:
        return wx_error(40029)
    openid, nonce = match.groups()
    answer = _fault_answer("jscode2session", openid)
    if answer:
        return answer
    if not state.rate_hit(f"jscode2session:{openid}", LOGIN_RATE_LIMIT, 60):
        return wx_error(45011)
    if nonce is not None and not state.claim_once("js-code", match.group(0)):
        return wx_error(40163)
    unionid = state.user_unionid("mp", openid) or state.user_unionid("oa", openid)
    unionid = state.register_user("mp", openid, unionid)
    session_key = base64.b64encode(secrets.token_bytes(16)).decode()
    return {"openid": openid, "session_key": session_key, "unionid": unionid}


@bp.post("/wxa/business/getuserphonenumber")
@wechat_api("getuserphonenumber", "mp")
def get_user_phone_number():
    body = json_body()
    if body is None:
        return wx_error(47001)
    answer = _fault_answer("getuserphonenumber")
    if answer:
        return answer
    code = body.get("code")
    match = PHONE_CODE_RE.fullmatch(code) if isinstance(code, str) else None
    if not match:
        return wx_error(40029)
    issued = state.r().get(state.key("phone-code", code))
    if issued is not None and state.now() - float(issued) > PHONE_CODE_TTL:
        return wx_error(40029)
    if not state.claim_once("phone-code-used", code):
        return wx_error(40029)
    phone = match.group(1)
    return wx_ok(phone_info={
        "phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86",
        "watermark": {"timestamp": int(state.now()),
                      "appid": current_app.config["WECHAT_MP_APPID"]}})


# --- messages ---------------------------------------------------------------------------

@bp.post("/cgi-bin/message/subscribe/send")
@wechat_api("subscribe_send", "mp")
def subscribe_send():
    body = json_body()
    if body is None:
        return wx_error(47001)
    touser = body.get("touser")
    answer = _fault_answer("subscribe_send", touser)
    if answer:
        return answer
    if not state.is_user("mp", touser):
        return wx_error(40003)
    template = templates.find("mp", body.get("template_id"))
    if template is None:
        return wx_error(40037)
    page = body.get("page")
    if page not in (None, "") and (not isinstance(page, str) or not templates.page_released(page)):
        return wx_error(41030)
    problem = rules.check_data(template.fields, body.get("data"))
    if problem:
        return wx_error(47003, problem)
    for name, allowed in (("miniprogram_state", MINIPROGRAM_STATES), ("lang", LANGS)):
        if body.get(name) is not None and body[name] not in allowed:
            return wx_error(47003, f"argument invalid! {name} invalid")
    if not state.consume_credit(touser, template.template_id):
        return wx_error(43101)
    message = {
        "api": "subscribe_send", "app": "mp", "touser": touser,
        "template_id": template.template_id, "page": page or None, "data": body["data"],
        "miniprogram_state": body.get("miniprogram_state") or "formal",
        "lang": body.get("lang") or "zh_CN", "msgid": state.next_msgid(), "at": state.iso_now()}
    state.record_message(message)
    push.schedule(message)
    return wx_ok(msgid=message["msgid"])


def _check_template_target(body: dict):
    """url / miniprogram of an OA template message: error answer or None."""
    url = body.get("url")
    if url not in (None, "") and not isinstance(url, str):
        return wx_error(47003, "argument invalid! url invalid")
    mini = body.get("miniprogram")
    if mini is None:
        return None
    if not isinstance(mini, dict) or mini.get("appid") != current_app.config["WECHAT_MP_APPID"]:
        return wx_error(40013)
    pagepath = mini.get("pagepath")
    if pagepath not in (None, "") and (not isinstance(pagepath, str)
                                       or not templates.page_released(pagepath)):
        return wx_error(40165)
    return None


@bp.post("/cgi-bin/message/template/send")
@wechat_api("template_send", "oa")
def template_send():
    body = json_body()
    if body is None:
        return wx_error(47001)
    touser = body.get("touser")
    answer = _fault_answer("template_send", touser)
    if answer:
        return answer
    if not state.is_user("oa", touser):
        return wx_error(40003 if state.is_user("mp", touser) or not touser else 43004)
    template = templates.find("oa", body.get("template_id"))
    if template is None:
        return wx_error(40037)
    error = _check_template_target(body)
    if error:
        return error
    problem = rules.check_data(template.fields, body.get("data"))
    if problem:
        return wx_error(47003, problem)
    client_msg_id = body.get("client_msg_id")
    if client_msg_id is not None and (not isinstance(client_msg_id, str)
                                      or not 0 < len(client_msg_id) <= 64):
        return wx_error(47003, "argument invalid! client_msg_id invalid")
    msgid = state.next_msgid()
    if client_msg_id:
        original = _claim_client_msg_id(touser, client_msg_id, msgid)
        if original != msgid:
            return wx_ok(msgid=original)
    mini = body.get("miniprogram") or None
    message = {
        "api": "template_send", "app": "oa", "touser": touser,
        "template_id": template.template_id,
        "page": (mini or {}).get("pagepath") or body.get("url") or None,
        "url": body.get("url") or None, "miniprogram": mini, "data": body["data"],
        "client_msg_id": client_msg_id, "msgid": msgid, "at": state.iso_now()}
    state.record_message(message)
    push.schedule(message)
    return wx_ok(msgid=msgid)


CLIENT_MSG_ID_WINDOW = 600


def _claim_client_msg_id(touser: str, client_msg_id: str, msgid: int) -> int:
    """WeChat-side dedupe: the msgid already sent with this client_msg_id in the last
    10 minutes, or `msgid` after claiming it for this send."""
    key = state.key("client-msg-id", touser, client_msg_id)
    record = state.dump({"msgid": msgid, "at": state.now()})
    if state.r().set(key, record, nx=True, ex=CLIENT_MSG_ID_WINDOW + state.DAY):
        return msgid
    previous = state.load(state.r().get(key)) or {}
    if previous and state.now() - previous["at"] < CLIENT_MSG_ID_WINDOW:
        return previous["msgid"]
    state.r().set(key, record, ex=CLIENT_MSG_ID_WINDOW + state.DAY)
    return msgid


# --- Official Account menu --------------------------------------------------------------

@bp.post("/cgi-bin/menu/create")
@wechat_api("menu_create", "oa")
def menu_create():
    body = json_body()
    if body is None:
        return wx_error(47001)
    answer = _fault_answer("menu_create")
    if answer:
        return answer
    problem = rules.check_menu(body, current_app.config["WECHAT_MP_APPID"])
    if problem:
        return wx_error(*problem)
    state.r().set(state.key("menu"), state.dump({"button": body["button"]}))
    return wx_ok()


@bp.get("/cgi-bin/menu/get")
@wechat_api("menu_get", "oa")
def menu_get():
    menu = state.load(state.r().get(state.key("menu")))
    if menu is None:
        return wx_error(46003)
    return {"menu": menu}


@bp.route("/cgi-bin/menu/delete", methods=["GET", "POST"])
@wechat_api("menu_delete", "oa")
def menu_delete():
    state.r().delete(state.key("menu"))
    return wx_ok()


# --- everything else --------------------------------------------------------------------

@bp.route("/cgi-bin/<path:rest>", methods=["GET", "POST"])
@bp.route("/wxa/<path:rest>", methods=["GET", "POST"])
@bp.route("/sns/<path:rest>", methods=["GET", "POST"])
def not_emulated(rest: str):
    return wx_error(48001, "api unauthorized (the sandbox does not emulate this API)")


from app.wechat.sandbox import admin  # noqa: E402,F401  (test interface routes)
