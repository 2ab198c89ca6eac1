"""One delivery attempt over one channel, outside any database transaction.

Maps every WeChat errcode of WECHAT.md to what the dispatcher does next: "sent",
"retry" (backoff), "next" (try the next channel), "failed" (final, with a Chinese
explanation for HR).
"""
from __future__ import annotations

import logging
from collections import ChainMap
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from wechatpy.exceptions import WeChatClientException

from app.services.notifications.routing import Route
from app.services.rules import templates as template_ids_service
from app.wechat.client import WeChatUnavailable, mini_program_client, official_account_client
from templates_msg import render, render_plain

log = logging.getLogger(__name__)

# errcode -> (action, Chinese explanation for HR, alert admins)
WECHAT_ERRORS: dict[int, tuple[str, str, bool]] = {
    -1: ("retry", "微信系统繁忙", False),
    40001: ("retry", "微信访问令牌无效（已重新获取仍失败）", False),
    40014: ("retry", "微信访问令牌无效（已重新获取仍失败）", False),
    42001: ("retry", "微信访问令牌已过期（已重新获取仍失败）", False),
    40003: ("failed", "接收人openid无效（可能是另一个应用的openid）", False),
    40037: ("failed", "模板ID无效，请管理员检查模板配置", True),
    41030: ("failed", "消息跳转页面未在已发布的小程序中，请管理员检查", True),
    43004: ("next", "接收人未关注公众号", False),
    43101: ("next", "用户未订阅该消息", False),
    45009: ("next", "今日发送次数已达上限，渠道暂停至次日", False),
    47003: ("failed", "消息字段不符合微信规则（系统缺陷，已通知管理员）", True),
}


@dataclass
class Outcome:
    status: str                       # sent / retry / next / failed / unreachable
    msgid: str | None = None
    errcode: int | None = None
    error: str | None = None
    template_id: str | None = None
    alert_admins: bool = False
    retry_at: datetime | None = None

    @classmethod
    def unreachable(cls) -> Outcome:
        return cls("unreachable",
                   error="收件人没有可用的通知渠道（未订阅、未关注、无手机号和邮箱）")


def transmit(kind: str, context: dict, open_token: str | None, route: Route, row_id: int,
             template_ids: dict | None = None) -> Outcome:
    """One attempt. `template_ids`: the ids in force (HR's settings over the config), read
    once per claimed batch; None reads them now."""
    if route.channel in ("subscribe", "oa_template"):
        return _wechat(kind, context, open_token, route, row_id, template_ids)
    if route.channel == "sms":
        return _sms(kind, context, open_token, route)
    return _email(kind, context, open_token, route)


def wechat_request(kind: str, context: dict, open_token: str | None, route: Route,
                   row_id: int, config) -> tuple[str, dict, str]:
    """(API path under /cgi-bin/, JSON body, template id) of one WeChat send."""
    msg = render(kind, context, app=route.app, config=config, open_token=open_token)
    if route.channel == "subscribe":
        return "message/subscribe/send", {
            "touser": route.address, "template_id": msg.template_id, "page": msg.page,
            "data": msg.data, "miniprogram_state": config.get("WECHAT_MP_STATE", "formal"),
            "lang": "zh_CN"}, msg.template_id
    # client_msg_id: WeChat itself drops a repeat of this row (e.g. after a crash).
    payload = {"touser": route.address, "template_id": msg.template_id, "data": msg.data,
               "client_msg_id": f"outbox-{row_id}"}
    if msg.url:  # staff: the mobile console page (templates_msg.MOBILE_PAGES)
        payload["url"] = msg.url
    else:
        payload["miniprogram"] = {"appid": config["WECHAT_MP_APPID"], "pagepath": msg.page}
    return "message/template/send", payload, msg.template_id


def _wechat(kind, context, open_token, route: Route, row_id: int,
            template_ids: dict | None) -> Outcome:
    cfg = current_app.config
    # HR's template ids (settings) in front of the configured ones: a change applies at once.
    config = (ChainMap({k: v for k, v in template_ids.items() if v}, cfg)
              if template_ids is not None else template_ids_service.config_with_overrides(cfg))
    path, payload, template_id = wechat_request(kind, context, open_token, route, row_id,
                                                config)
    client = mini_program_client() if route.channel == "subscribe" else official_account_client()
    try:
        result = client.call(lambda c: c.post(path, data=payload))
    except WeChatClientException as exc:
        action, explanation, alert = WECHAT_ERRORS.get(
            exc.errcode, ("retry", "微信返回未知错误", False))
        log.info("outbox %s: %s errcode %s (%s)", row_id, route.channel, exc.errcode, action)
        return Outcome(action, errcode=exc.errcode, template_id=template_id,
                       error=f"{explanation}（{exc.errcode}：{exc.errmsg}）", alert_admins=alert)
    except WeChatUnavailable as exc:
        return Outcome("retry", template_id=template_id, error=f"微信接口不可达：{exc}")
    msgid = result.get("msgid") if isinstance(result, dict) else None
    return Outcome("sent", msgid=str(msgid) if msgid is not None else None,
                   template_id=template_id)


def _open_url(open_token: str | None) -> str | None:
    if not open_token:
        return None
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/m/open?t={open_token}"


def _sms(kind, context, open_token, route: Route) -> Outcome:
    from app.channels.sms import sms_provider_from_config

    provider = sms_provider_from_config(current_app.config)
    if provider is None:
        return Outcome("next", error="未启用短信渠道")
    plain = render_plain(kind, context)
    result = provider.send(route.address, kind, plain.sms_params)
    if result.ok:
        return Outcome("sent", msgid=result.provider_msgid, template_id=kind)
    error = f"短信发送失败：{result.message}（{result.code}）"
    return Outcome("retry" if result.retryable else "next", error=error, template_id=kind)


def _email(kind, context, open_token, route: Route) -> Outcome:
    from app.channels.email import send_email

    plain = render_plain(kind, context, open_url=_open_url(open_token))
    result = send_email(current_app.config, route.address, plain.subject, plain.text)
    if result.ok:
        return Outcome("sent", msgid=result.message_id, template_id=None)
    return Outcome("retry" if result.retryable else "failed",
                   error=f"邮件发送失败：{result.error}")
