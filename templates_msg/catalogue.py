"""Definitions of every message kind. Wording follows the product's seeds: the candidate
learns what was cancelled, why, and what happens next."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# Field types of the templates registered in the WeChat admin consoles.
MP_CANCELLED_FIELDS = {"thing1": "thing", "time2": "time", "thing3": "thing", "thing4": "thing"}
MP_REQUEST_FIELDS = {"thing1": "thing", "time2": "time", "phrase3": "phrase", "thing4": "thing"}
MP_CHANGED_FIELDS = {"thing1": "thing", "time2": "time", "time3": "time", "thing4": "thing"}
OA_HR_ALERT_FIELDS = {"thing1": "thing", "thing2": "thing", "time3": "time", "thing4": "thing"}


@dataclass(frozen=True)
class MessageKind:
    code: str
    audience: str              # candidate / staff
    mp_template_key: str | None  # config key of the mini-program template id
    oa_template_key: str | None  # config key of the Official Account template id
    fields: dict[str, str]     # template field -> WeChat type
    values: Callable[[dict], dict]  # context -> {field: raw value}
    page: str                  # mini-program page opened by the message
    text: Callable[[dict], str]  # SMS / e-mail body


def _cand_cancelled(c: dict) -> dict:
    return {"thing1": c["position_title"], "time2": c["scheduled_at"],
            "thing3": c["reason_label"], "thing4": "如需重新预约，请联系招聘HR"}


def _cand_cancelled_text(c: dict) -> str:
    return (f"尊敬的{c['candidate_name']}，您已取消原定{c['scheduled_at_text']}的"
            f"{c['position_title']}AI面试（原因：{c['reason_label']}）。如需重新预约，请联系招聘HR。")


def _cand_requested(c: dict) -> dict:
    return {"thing1": c["position_title"], "time2": c["scheduled_at"], "phrase3": "审核中",
            "thing4": "HR审核后将通知您结果"}


def _cand_requested_text(c: dict) -> str:
    return (f"尊敬的{c['candidate_name']}，我们已收到您取消{c['scheduled_at_text']}"
            f"{c['position_title']}AI面试的申请，HR审核后将通知您结果。")


def _cand_rescheduled(c: dict) -> dict:
    return {"thing1": c["position_title"], "time2": c["previous_scheduled_at"],
            "time3": c["scheduled_at"], "thing4": "请按新的时间参加AI面试"}


def _cand_rescheduled_text(c: dict) -> str:
    return (f"尊敬的{c['candidate_name']}，您的{c['position_title']}AI面试已由"
            f"{c['previous_scheduled_at_text']}改期至{c['scheduled_at_text']}，请按时参加。")


def _staff_values(title: str) -> Callable[[dict], dict]:
    def build(c: dict) -> dict:
        return {"thing1": title, "thing2": f"{c['candidate_name']} {c['position_title']}",
                "time3": c["scheduled_at"], "thing4": c["reason_label"]}
    return build


def _staff_text(title: str) -> Callable[[dict], str]:
    def build(c: dict) -> str:
        return (f"{title}：候选人{c['candidate_name']}（{c['interview_number']}，"
                f"{c['position_title']}，{c['scheduled_at_text']}），原因：{c['reason_label']}。")
    return build


MESSAGE_KINDS: dict[str, MessageKind] = {
    k.code: k for k in (
        MessageKind("candidate_cancel_confirmed", "candidate", "WECHAT_TPL_INTERVIEW_CANCELLED",
                    None, MP_CANCELLED_FIELDS, _cand_cancelled, "pages/message/open",
                    _cand_cancelled_text),
        MessageKind("candidate_cancel_requested", "candidate", "WECHAT_TPL_CANCEL_REQUEST",
                    None, MP_REQUEST_FIELDS, _cand_requested, "pages/message/open",
                    _cand_requested_text),
        MessageKind("candidate_rescheduled", "candidate", "WECHAT_TPL_INTERVIEW_CHANGED",
                    None, MP_CHANGED_FIELDS, _cand_rescheduled, "pages/message/open",
                    _cand_rescheduled_text),
        MessageKind("staff_interview_rescheduled", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _staff_values("候选人面试改期"), "pages/message/open",
                    _staff_text("候选人面试改期")),
        MessageKind("staff_candidate_cancelled", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _staff_values("候选人取消面试"), "pages/message/open",
                    _staff_text("候选人取消面试")),
        MessageKind("staff_approval_needed", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _staff_values("面试取消申请待审批"), "pages/message/open",
                    _staff_text("面试取消申请待审批")),
    )
}


def get_kind(code: str) -> MessageKind:
    try:
        return MESSAGE_KINDS[code]
    except KeyError:
        raise KeyError(f"unknown message kind {code!r}") from None
