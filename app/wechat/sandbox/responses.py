"""WeChat-style JSON answers: `{"errcode": ..., "errmsg": ...}`, HTTP 200 even for errors."""
from __future__ import annotations

from flask import jsonify, request

# errmsg texts as WeChat words them (the sandbox uses the same codes and wording).
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40007: "invalid media_id",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40023: "invalid sub button size",
    40029: "invalid code",
    40037: "invalid template_id",
    40055: "invalid button url domain",
    40125: "invalid appsecret",
    40163: "code been used",
    40165: "invalid weapp pagepath",
    40226: "high risk user",
    41001: "access_token missing",
    41030: "invalid page",
    42001: "access_token expired",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    46003: "menu no exist",
    47001: "data format error",
    47003: "argument invalid!",
    48001: "api unauthorized",
}


def wx_ok(**payload):
    """Success answer: errcode 0, errmsg "ok", plus the API's own fields."""
    return jsonify({"errcode": 0, "errmsg": "ok", **payload})


def wx_error(errcode: int, errmsg: str | None = None):
    """Error answer with HTTP 200, as WeChat does."""
    return jsonify({"errcode": errcode, "errmsg": errmsg or ERRMSG.get(errcode, "error")})


def bad_request(errmsg: str, status: int = 400, errcode: int = 47001):
    """Test-interface error (the /_sandbox/wechat/* control endpoints use HTTP statuses)."""
    response = jsonify({"errcode": errcode, "errmsg": errmsg})
    response.status_code = status
    return response


def json_body() -> dict | None:
    """The JSON object in the body, whatever the Content-Type (wechatpy sends none)."""
    body = request.get_json(force=True, silent=True)
    return body if isinstance(body, dict) else None
