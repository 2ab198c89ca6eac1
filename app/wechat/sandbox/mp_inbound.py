"""Test interface: the candidate acts on subscriptions in the mini program, and the sandbox
tells our callback as WeChat would.

POST /_sandbox/wechat/mp/subscribe-popup {openid, results: {template_id: accept|reject},
popup_scene?}: the user answered wx.requestSubscribeMessage's popup. WeChat records a
one-time credit per accept (sends then succeed once) and pushes
subscribe_msg_popup_event to {base}/wechat/mp/callback.

POST /_sandbox/wechat/mp/subscribe-settings {openid, results: {template_id:
accept|reject}}: the user switched templates in the mini program's settings. Off
(reject) means WeChat refuses sends of that template (43101): the sandbox drops the
credits; then it pushes subscribe_msg_change_event.

Both answer {callback_status, attempts} of the push (push.push_xml: the app's mode, the
real clock, WeChat's retries).
"""
from __future__ import annotations

import time

from app.wechat.sandbox import bp, push, state, templates
from app.wechat.sandbox.admin import _body, _openid
from app.wechat.sandbox.responses import bad_request, wx_ok

MAX_TEMPLATES = 3  # wx.requestSubscribeMessage asks for at most 3 at once


def _results(body: dict) -> dict[str, str] | None:
    results = body.get("results")
    if not isinstance(results, dict) or not 0 < len(results) <= MAX_TEMPLATES:
        return None
    for template_id, result in results.items():
        if templates.find("mp", template_id) is None or result not in ("accept", "reject"):
            return None
    return results


def _parse():
    body = _body()
    openid, results = _openid(body), _results(body)
    if openid is None or results is None:
        return None, None, bad_request(
            "openid and results ({template_id: accept|reject}, 1-3 mini-program "
            "templates) are required")
    return openid, results, None


@bp.post("/mp/subscribe-popup")
def mp_subscribe_popup():
    openid, results, error = _parse()
    if error is not None:
        return error
    state.register_user("mp", openid)
    for template_id, result in results.items():
        if result == "accept":
            state.add_credit(openid, template_id)
    scene = _body().get("popup_scene", 0)
    xml = push.subscription_event_xml(openid, "popup", results, int(time.time()),
                                      popup_scene=scene if isinstance(scene, int) else 0)
    return wx_ok(**push.push_xml("mp", xml, openid))


@bp.post("/mp/subscribe-settings")
def mp_subscribe_settings():
    openid, results, error = _parse()
    if error is not None:
        return error
    for template_id, result in results.items():
        if result == "reject":
            state.r().hdel(state.key("credits"), state._credit_field(openid, template_id))
    xml = push.subscription_event_xml(openid, "change", results, int(time.time()))
    return wx_ok(**push.push_xml("mp", xml, openid))
