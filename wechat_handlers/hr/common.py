"""What every HR handler of the Official Account shares: who the sender is, the texts
for people who are not bound, and how errors read.

Trap: an unbound sender never gets data, only instructions; a disabled HR user counts as
unbound (wechat_binding.bound_user).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from app.core.errors import AppError
from app.core.request_context import current_request_id
from app.extensions import db
from app.models import HrUser
from app.services.users.actor import Actor
from app.services.users.wechat_binding import bound_user

log = logging.getLogger(__name__)

# WeChat shows at most 2048 bytes of a passive text reply; ours stay well below.
MAX_REPLY_CHARS = 600

NOT_BOUND = ("您的微信尚未绑定招聘后台账号，暂不能使用HR功能。\n"
             "HR绑定方法：登录招聘后台，打开“微信绑定”页面，"
             "发送“绑定 绑定码”（如：绑定 ABCD2345），或用微信扫描页面上的二维码。\n"
             "候选人如需取消或改期面试，请在“AI面试”小程序中操作；有问题可直接在这里留言。")

HELP = ("可用指令：\n"
        "同意 面试编号 [意见]\n"
        "驳回 面试编号 原因\n"
        "取消 面试编号 原因 [说明]\n"
        "查询 面试编号或姓名\n"
        "解绑：解除本微信与招聘后台账号的绑定\n"
        "帮助：查看本说明\n"
        "面试编号如：AI-2026-12-03-001。菜单“待我审批”“今日取消”“取消统计”可查看概况。")


def hr_sender(openid: str | None) -> tuple[HrUser, Actor] | None:
    """The bound, active HR user behind this openid and their Actor (as the console
    builds it), or None."""
    user = bound_user(openid)
    if user is None:
        return None
    return user, Actor.hr(user).in_request(current_request_id())


def fit(text: str) -> str:
    return text if len(text) <= MAX_REPLY_CHARS else text[:MAX_REPLY_CHARS - 1] + "…"


def answers_in_chinese(handler: Callable[..., str | None]) -> Callable[..., str | None]:
    """A refused action answers its Chinese message; a failure answers 系统繁忙 (and is
    logged) instead of a 500, which would make WeChat send the command again."""
    @wraps(handler)
    def wrapped(*args, **kwargs):
        try:
            text = handler(*args, **kwargs)
        except AppError as exc:
            db.session.rollback()
            return fit(exc.message)
        except Exception:
            db.session.rollback()
            log.exception("official account HR handler %s failed", handler.__name__)
            return "系统繁忙，请稍后再试。"
        return fit(text) if text is not None else None
    return wrapped
