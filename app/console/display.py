"""Chinese labels and formatting helpers for console templates."""
from __future__ import annotations

from flask import Blueprint, g

from app.core.crypto import mask_phone
from app.core.timeutil import cn_datetime
from app.models import CancellationState
from app.services.audit import labels as audit_labels

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
INITIATOR_LABELS = {"candidate": "候选人取消", "hr": "公司取消", "system": "系统取消",
                    "integration": "公司取消（系统对接）"}
RULE_LABELS = audit_labels.RULE_LABELS  # one list of the rules system jobs apply
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
    """Chinese name of an audit action (app.services.audit.labels)."""
    return audit_labels.action_label(action)


def audit_data_items(data: dict | None) -> list[tuple[str, str]]:
    """(label, value) pairs of an audit entry's data in words (reasons by their labels,
    statuses by theirs), then what changed as before -> after."""
    if "audit_lookups" not in g:
        g.audit_lookups = audit_labels.Lookups.load()
    lookups = g.audit_lookups
    return [*audit_labels.details(data, lookups),
            *((c.field, f"{c.before} → {c.after}")
              for c in audit_labels.changes(data, lookups))]


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
