"""Official Account phone (development): a page that plays a follower of the OA against
our real callback, so HR binding, the menu and the commands can be tried by hand
(`make run`, then /_sandbox/wechat/oa/phone).

It only uses the sandbox's own interfaces: /followers (who follows), /menu (what
`flask wechat sync-menu` pushed), /oa/inbound (the user's message or tap, encrypted and
signed as WeChat sends it) and /messages (template and customer-service messages that
reached this openid). Logic in static/oa_phone.js.
"""
from __future__ import annotations

from flask import render_template

from app.wechat.sandbox import bp


@bp.get("/oa/phone")
def oa_phone():
    return render_template("sandbox/oa_phone.html")
