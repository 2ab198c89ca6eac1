"""Candidate simulator: a phone-sized H5 page that plays the mini program against the
real candidate API (/api/mp/v1), so the cancel flow can be watched in a browser, and an
interview's 确认参加 (POST .../confirm, after the "schedule" subscription dialog) and 改期
(GET .../reschedule-slots, POST .../reschedule) used as the mini program does; and the
candidate's 名额邀请 (GET /offers: a freed place or the slot of a rescheduling promise)
accepted or declined through POST /offers/<id>/accept | decline.

Sandbox only: the routes live on the sandbox blueprint, which is registered only when
SANDBOX_ENABLED. The page's logic is in static/simulator.js.
"""
from __future__ import annotations

from flask import current_app, jsonify, render_template, request, url_for
from sqlalchemy import select

from app.extensions import db
from app.models import Candidate, WechatAccount, WechatApp
from app.wechat.sandbox import bp

# What the mini program's subscription dialog calls each template (WeChat shows the
# template's title there; our API only hands out ids).
TEMPLATE_TITLES = {
    "WECHAT_TPL_INTERVIEW_CANCELLED": "面试取消通知",
    "WECHAT_TPL_CANCEL_REQUEST": "取消申请提交通知",
    "WECHAT_TPL_INTERVIEW_CHANGED": "面试变更通知",
    "WECHAT_TPL_CONFIRM_REMINDER": "面试确认提醒",
    "WECHAT_TPL_SLOT_OFFER": "面试空档通知",
}


@bp.get("/simulator")
def simulator():
    """The simulator page."""
    cfg = current_app.config
    page_config = {
        "api_base": request.script_root + "/api/mp/v1",
        "sandbox_base": url_for("sandbox.simulator").rsplit("/simulator", 1)[0],
        "template_titles": {cfg[key]: title for key, title in TEMPLATE_TITLES.items()
                            if cfg.get(key)},
    }
    return render_template("sandbox/simulator.html", page_config=page_config)


@bp.get("/simulator/candidates")
def simulator_candidates():
    """Demo candidates that have a mini-program WeChat account, ordered by openid."""
    rows = db.session.execute(
        select(WechatAccount.openid, Candidate.name)
        .join(Candidate, Candidate.id == WechatAccount.candidate_id)
        .where(WechatAccount.app == WechatApp.MINI_PROGRAM,
               WechatAccount.candidate_id.is_not(None))
        .order_by(WechatAccount.openid)
    ).all()
    return jsonify(items=[{"openid": openid, "name": name} for openid, name in rows])
