"""Official Account user information, as the sandbox speaks it: /cgi-bin/user/info and
/cgi-bin/user/info/batchget (at most 100 openids, else 40032).

WeChat's rules kept here: a follower answers subscribe 1 with its unionid (the sandbox
gives every user one: the account is bound to an Open Platform account); someone who does
not follow answers subscribe 0 with the openid only. An openid the account never saw
answers 40003 from user/info; batchget lists it as subscribe 0.
"""
from __future__ import annotations

from flask import request

from app.wechat.sandbox import bp, state
from app.wechat.sandbox.responses import json_body, wx_error, wx_ok
from app.wechat.sandbox.routes import _fault_answer, wechat_api

BATCH_MAX = 100


def _info(openid: str) -> dict:
    if not state.is_user("oa", openid):
        return {"subscribe": 0, "openid": openid}
    return {"subscribe": 1, "openid": openid, "language": "zh_CN",
            "unionid": state.user_unionid("oa", openid)}


@bp.get("/cgi-bin/user/info")
@wechat_api("user_info", "oa")
def user_info():
    openid = request.args.get("openid")
    fault = _fault_answer("user_info", openid)
    if fault is not None:
        return fault
    if not openid or len(openid) > 64:
        return wx_error(40003)
    return wx_ok(**_info(openid))


@bp.post("/cgi-bin/user/info/batchget")
@wechat_api("user_info_batchget", "oa")
def user_info_batchget():
    fault = _fault_answer("user_info_batchget")
    if fault is not None:
        return fault
    users = (json_body() or {}).get("user_list")
    if not isinstance(users, list) or not 0 < len(users) <= BATCH_MAX:
        return wx_error(40032, "invalid openid list size")
    openids = [u.get("openid") if isinstance(u, dict) else None for u in users]
    if not all(isinstance(o, str) and 0 < len(o) <= 64 for o in openids):
        return wx_error(40003)
    return wx_ok(user_info_list=[_info(o) for o in openids])
