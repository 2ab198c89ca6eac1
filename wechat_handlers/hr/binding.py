"""Scanning a binding QR code: SCAN (a follower) or subscribe with a `qrscene_` key (the
scan made them follow). The follower status itself is the pipeline's subscribe handler's;
this one only binds, and stays silent for scenes that are not binding scenes."""
from __future__ import annotations

from app.services.users import wechat_binding
from wechat_handlers.hr.common import answers_in_chinese
from wechat_handlers.views import on_event


def bound_text(result: wechat_binding.BindResult) -> str:
    moved = "（该微信原绑定的其他账号已解除）" if result.replaced_other else ""
    return (f"绑定成功：本微信已绑定招聘后台账号“{result.display_name}”{moved}。"
            "候选人取消面试、取消申请待审批时您将在这里收到通知。发送“帮助”查看可用指令。")


@answers_in_chinese
def _bind_scene(raw: dict) -> str | None:
    result = wechat_binding.bind_by_scene(str(raw.get("FromUserName") or ""),
                                          str(raw.get("EventKey") or ""))
    return bound_text(result) if result is not None else None


@on_event("oa", "scan")
def scanned(raw: dict, xml: str) -> str | None:
    return _bind_scene(raw)


@on_event("oa", "subscribe")
def followed_by_scanning(raw: dict, xml: str) -> str | None:
    if not str(raw.get("EventKey") or "").startswith(wechat_binding.QRSCENE_PREFIX):
        return None
    return _bind_scene(raw)
