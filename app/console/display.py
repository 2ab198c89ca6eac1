"""Chinese labels and formatting helpers for console templates."""
from __future__ import annotations

from flask import Blueprint

from app.core.crypto import mask_phone
from app.core.timeutil import cn_datetime
from app.models import CancellationState

RECIPIENT_LABELS = {
    "candidate": "候选人",
    "hr": "HR",
    "hr_user": "HR",
    "interviewer": "面试官",
    "webhook": "外部系统",
}
CHANNEL_LABELS = {
    "subscribe": "小程序订阅消息",
    "oa_template": "公众号模板消息",
    "sms": "短信",
    "email": "邮件",
    "webhook": "Webhook",
}
ACTOR_LABELS = {"candidate": "候选人", "hr": "HR", "system": "系统",
                "integration": "接口密钥"}
CANCELLATION_STATE_LABELS = {
    CancellationState.REQUESTED: "待审批",
    CancellationState.DETAIL_REQUESTED: "待候选人补充说明",
    CancellationState.EFFECTIVE: "已生效",
    CancellationState.REJECTED: "已驳回",
}
# Audit actions and data keys written by app.services; unknown ones show their code.
AUDIT_ACTION_LABELS = {
    "interview.cancelled": "取消面试",
    "interview.cancel_requested": "申请取消面试",
    "interview.cancel_approved": "批准取消申请",
    "interview.cancel_rejected": "驳回取消申请",
    "interview.confirmed": "确认参加面试",
    "interview.rescheduled": "改期",
    "interview.cancel_level_approved": "一级审批通过",
    "interview.cancel_detail_requested": "要求补充说明",
    "interview.cancel_detail_answered": "候选人补充说明",
    "interview.completed": "报告面试完成",
    "interview.no_show": "报告未到场",
}
INITIATOR_LABELS = {"candidate": "候选人取消", "hr": "公司取消", "system": "系统取消",
                    "integration": "公司取消（系统对接）"}
RULE_LABELS = {"auto_cancel_unconfirmed": "逾期未确认自动取消"}
AUDIT_DATA_LABELS = {
    "reason": "原因代码",
    "note": "说明",
    "number": "面试编号",
    "cancellation_id": "取消记录",
    "batch_id": "批次",
    "comment": "审批意见",
    "level": "审批级别",
    "answer": "补充说明",
    "reschedule_by": "重新安排期限",
    "notified": "通知",
    "rule": "规则",
}
FAILED_STATUSES = frozenset({"failed", "unreachable"})


def recipient_label(value: str | None) -> str:
    """候选人 / HR / ... for an outbox recipient type."""
    return RECIPIENT_LABELS.get(value or "", value or "")


def channel_label(value: str | None) -> str:
    """Chinese name of a delivery channel; unknown channels show their code."""
    if not value:
        return "待定"
    return CHANNEL_LABELS.get(value, value)


def actor_label(actor_type: str | None, actor_id: int | None = None,
                hr_names: dict[int, str] | None = None) -> str:
    """Who did it: 候选人, 系统, or the HR user's name."""
    if actor_type == "hr" and hr_names and actor_id in hr_names:
        return f"HR · {hr_names[actor_id]}"
    return ACTOR_LABELS.get(actor_type or "", actor_type or "")


def initiator_label(actor_type: str | None) -> str:
    """候选人取消 / 公司取消 / 系统取消."""
    return INITIATOR_LABELS.get(actor_type or "", actor_type or "")


def rule_label(rule: str | None) -> str:
    return RULE_LABELS.get(rule or "", rule or "")


def cancellation_state_label(state: CancellationState | None) -> str:
    """待审批 / 已生效 / 已驳回."""
    return CANCELLATION_STATE_LABELS.get(state, "") if state else ""


def audit_action_label(action: str | None) -> str:
    """Chinese name of an audit action; unknown actions show their code."""
    return AUDIT_ACTION_LABELS.get(action or "", action or "")


def audit_data_items(data: dict | None) -> list[tuple[str, str]]:
    """(label, value) pairs of an audit entry's data, empty values left out."""
    return [(AUDIT_DATA_LABELS.get(key, key), str(value))
            for key, value in (data or {}).items() if value not in (None, "")]


def masked_phone(candidate) -> str:
    """The candidate's phone as 138****8000; never fails the page on a bad ciphertext."""
    try:
        return mask_phone(candidate.phone)
    except ValueError:
        return "****"


def message_times(message) -> str:
    """Tooltip text with the send, delivery and read times of one message."""
    parts = [f"创建：{cn_datetime(message.created_at)}"]
    for label, value in (("发送", message.sent_at), ("送达", message.delivered_at),
                         ("已读", message.read_at)):
        if value is not None:
            parts.append(f"{label}：{cn_datetime(value)}")
    if message.status.value in FAILED_STATUSES and message.last_error:
        parts.append(f"原因：{message.last_error}")
    return "；".join(parts)


def register(bp: Blueprint) -> None:
    """Make the helpers available as Jinja filters."""
    for func in (recipient_label, channel_label, cancellation_state_label, masked_phone,
                 message_times, cn_datetime, audit_action_label, audit_data_items,
                 initiator_label, rule_label):
        bp.add_app_template_filter(func)
    bp.add_app_template_global(actor_label)
