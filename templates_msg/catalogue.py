"""Definitions of every message kind. Wording follows the product's seeds: the candidate
learns what was cancelled, why, and what happens next."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

# Field types of the templates registered in the WeChat admin consoles.
MP_CANCELLED_FIELDS = {"thing1": "thing", "time2": "time", "thing3": "thing", "thing4": "thing"}
MP_REQUEST_FIELDS = {"thing1": "thing", "time2": "time", "phrase3": "phrase", "thing4": "thing"}
MP_REMINDER_FIELDS = {"thing1": "thing", "time2": "time", "time3": "time", "thing4": "thing"}
MP_OFFER_FIELDS = {"thing1": "thing", "time2": "time", "thing3": "thing"}
MP_CHANGED_FIELDS = {"thing1": "thing", "time2": "time", "time3": "time", "thing4": "thing"}
# The Official Account's notice template (事项/对象/时间/说明), for HR and for candidates
# who follow the Official Account.
OA_HR_ALERT_FIELDS = {"thing1": "thing", "thing2": "thing", "time3": "time", "thing4": "thing"}
OA_NOTICE = "WECHAT_OA_TPL_HR_ALERT"


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
    # Candidates who follow the Official Account get the OA notice template instead.
    oa_fields: dict[str, str] | None = None
    oa_values: Callable[[dict], dict] | None = None
    # Checked at dispatch, not only at enqueue (app.services.notifications.dispatch): a
    # queued message about an interview goes out only while it is still true.
    # `valid_while`: the interview statuses it may be sent in (None: any);
    # `about_time`: the context key holding the interview time the message names (as
    # queued); a reschedule since then makes it stale. None: it names no such time.
    valid_while: frozenset[str] | None = None
    about_time: str | None = None

    def stale_reason(self, context: dict, status: str | None,
                     scheduled_at: datetime | None) -> str | None:
        """Why this message no longer fits its interview as it is now (status and time),
        as a code (interview_cancelled / interview_status_changed / interview_rescheduled);
        None when it still fits or there is no interview."""
        if status is None:
            return None
        if self.valid_while is not None and status not in self.valid_while:
            return "interview_cancelled" if status == "cancelled" else "interview_status_changed"
        if self.about_time and scheduled_at is not None:
            queued = _aware(context.get(self.about_time))
            # a reschedule moves by minutes at least; the stored text has second precision
            if queued is not None and abs((queued - _aware(scheduled_at)).total_seconds()) >= 60:
                return "interview_rescheduled"
        return None


# Interview statuses in which the interview still takes place (at its time).
GOING_AHEAD = frozenset({"scheduled", "confirmed", "cancel_pending"})


def _aware(value) -> datetime | None:
    """A datetime (or ISO 8601 text) with a zone; naive values are UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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


def _candidate_oa(title: str, note: str) -> Callable[[dict], dict]:
    def build(c: dict) -> dict:
        return {"thing1": title, "thing2": c["position_title"], "time3": c["scheduled_at"],
                "thing4": (c.get("reason_label") or note)}
    return build


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


def _next_step(c: dict) -> str:
    """What happens next: a new slot within N working days when HR promised one."""
    if c.get("reschedule_by") or "actor_type" not in c:
        return f"我们将在{c.get('reschedule_days', 3)}个工作日内为您重新安排"
    return "如需重新预约请联系招聘HR"


def _company_cancelled(c: dict) -> dict:
    return {"thing1": c["position_title"], "time2": c["scheduled_at"],
            "thing3": c["reason_label"], "thing4": _next_step(c)}


def _company_cancelled_text(c: dict) -> str:
    # the seed's wording: reason, time, what happens next, HR contact
    contact = c.get("hr_contact") or "如有疑问可在小程序中提交反馈"
    return (f"尊敬的{c['candidate_name']}，因{c['reason_label']}，您原定{c['scheduled_at_text']}的"
            f"AI面试已取消，{_next_step(c)}，感谢理解。{contact}。")


def _detail_requested(c: dict) -> dict:
    return {"thing1": c["position_title"], "time2": c["scheduled_at"],
            "phrase3": "需补充说明", "thing4": c.get("comment") or "请在小程序中补充取消原因"}


def _detail_requested_text(c: dict) -> str:
    return (f"尊敬的{c['candidate_name']}，您取消{c['scheduled_at_text']}{c['position_title']}"
            f"AI面试的申请需要补充说明：{c.get('comment') or ''}。"
            "请在小程序中补充后，HR将继续审核。")


def _batch_summary(c: dict) -> dict:
    return {"thing1": "面试已批量取消", "thing2": f"共{c['cancelled']}场 {c['scope']}",
            "time3": c["cancelled_at"], "thing4": c["reason_label"]}


def _batch_summary_text(c: dict) -> str:
    return (f"批量取消完成：{c['scope']}共取消{c['cancelled']}场AI面试（跳过{c['skipped']}场），"
            f"原因：{c['reason_label']}，操作人：{c['actor_name']}。候选人已逐一通知，详情请登录招聘后台查看。")


def _request_decided(approved: bool) -> Callable[[dict], dict]:
    def build(c: dict) -> dict:
        return {"thing1": c["position_title"], "time2": c["scheduled_at"],
                "phrase3": "已通过" if approved else "未通过",
                "thing4": "面试已取消" if approved
                else (c.get("comment") or "请按原时间参加面试")}
    return build


def _request_decided_text(approved: bool) -> Callable[[dict], str]:
    def build(c: dict) -> str:
        if approved:
            return (f"尊敬的{c['candidate_name']}，您取消{c['scheduled_at_text']}"
                    f"{c['position_title']}AI面试的申请已通过，面试已取消。")
        reason = f"（{c['comment']}）" if c.get("comment") else ""
        return (f"尊敬的{c['candidate_name']}，您取消{c['scheduled_at_text']}"
                f"{c['position_title']}AI面试的申请未通过{reason}，请按原时间参加面试。")
    return build


def _reminder(c: dict) -> dict:
    hours = c.get("auto_cancel_hours", 24)
    return {"thing1": c["position_title"], "time2": c["scheduled_at"],
            "time3": c["confirm_by"], "thing4": f"逾期未确认将自动取消（{hours}小时）"}


def _reminder_text(c: dict) -> str:
    return (f"尊敬的{c['candidate_name']}，请在{c['confirm_by_text']}前确认参加"
            f"{c['scheduled_at_text']}的{c['position_title']}AI面试，逾期未确认将自动取消。")


def _slot_offer(c: dict) -> dict:
    return {"thing1": c["position_title"], "time2": c["slot_starts_at"],
            "thing3": "名额有限，先到先得"}


def _slot_offer_text(c: dict) -> str:
    return (f"尊敬的{c['candidate_name']}，{c['position_title']}AI面试在"
            f"{c['slot_starts_at_text']}有空余名额，可在小程序中改约，名额有限，先到先得。")


def _promise_at_risk(c: dict) -> dict:
    # 2023 OA rules: typed keyword fields only (no first/remark)
    return {"thing1": "重新安排即将逾期", "thing2": f"{c['candidate_name']} {c['position_title']}",
            "time3": c["due_at"], "thing4": "请在期限前为候选人安排面试"}


def _promise_at_risk_text(c: dict) -> str:
    return (f"重新安排即将逾期：公司取消了候选人{c['candidate_name']}（{c['interview_number']}，"
            f"{c['position_title']}）原定{c['scheduled_at_text']}的AI面试，并承诺在"
            f"{c['due_at_text']}前为其重新安排，目前尚未安排。请登录招聘后台处理。")


def _digest(c: dict) -> dict:
    thing4 = (f"无法触达{c['failed']}人，承诺将到期{c['at_risk']}个" if "at_risk" in c
              else f"未送达通知{c['failed']}条，详情见后台")
    return {"thing1": "面试取消日报", "thing2": f"取消{c['cancelled']}场，待审批{c['pending']}场",
            "time3": c["day_end_at"], "thing4": thing4}


def _digest_text(c: dict) -> str:
    # by_reason / at_risk: the watchdogs' digest (app.services.watchdogs.digest)
    reasons = f"（{c['by_reason']}）" if c.get("by_reason") else ""
    if "at_risk" in c:
        rest = (f"无法触达的候选人{c['failed']}人，"
                f"重新安排承诺1个工作日内到期{c['at_risk']}个")
    else:
        rest = f"候选人通知失败或无法触达{c['failed']}条"
    return (f"面试取消日报（{c['day']}）：取消{c['cancelled']}场{reasons}，待审批{c['pending']}场，"
            f"{rest}。详情请登录招聘后台查看。")


def _watchdog_alert(c: dict) -> dict:
    return {"thing1": c["alert_title"], "thing2": c["subject"], "time3": c["opened_at"],
            "thing4": c["detail"]}


def _watchdog_alert_text(c: dict) -> str:
    return f"{c['alert_title']}：{c['subject']}。{c['detail']}。详情请登录招聘后台查看。"


def _webhook_disabled(c: dict) -> dict:
    return {"thing1": "对接接口已停用", "thing2": c["endpoint_name"], "time3": c["disabled_at"],
            "thing4": f"连续{c['consecutive_failures']}次投递失败"}


def _webhook_disabled_text(c: dict) -> str:
    return (f"对接接口“{c['endpoint_name']}”（{c['endpoint_url']}）因连续"
            f"{c['consecutive_failures']}次投递失败已于{c['disabled_at_text']}停用，"
            f"原因：{c.get('reason') or '未知'}。请检查对方系统后在设置中重新启用。")


MESSAGE_KINDS: dict[str, MessageKind] = {
    k.code: k for k in (
        MessageKind("candidate_cancel_confirmed", "candidate", "WECHAT_TPL_INTERVIEW_CANCELLED",
                    OA_NOTICE, MP_CANCELLED_FIELDS, _cand_cancelled, "pages/message/open",
                    _cand_cancelled_text, OA_HR_ALERT_FIELDS,
                    _candidate_oa("面试已取消", "如需重新预约请联系HR")),
        MessageKind("candidate_cancel_requested", "candidate", "WECHAT_TPL_CANCEL_REQUEST",
                    OA_NOTICE, MP_REQUEST_FIELDS, _cand_requested, "pages/message/open",
                    _cand_requested_text, OA_HR_ALERT_FIELDS,
                    _candidate_oa("取消申请审核中", "HR审核后将通知您结果")),
        MessageKind("candidate_rescheduled", "candidate", "WECHAT_TPL_INTERVIEW_CHANGED",
                    OA_NOTICE, MP_CHANGED_FIELDS, _cand_rescheduled, "pages/message/open",
                    _cand_rescheduled_text, OA_HR_ALERT_FIELDS,
                    _candidate_oa("面试时间已变更", "请按新的时间参加AI面试"),
                    valid_while=GOING_AHEAD, about_time="scheduled_at"),
        MessageKind("staff_interview_rescheduled", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _staff_values("候选人面试改期"), "pages/message/open",
                    _staff_text("候选人面试改期"), valid_while=GOING_AHEAD,
                    about_time="new_scheduled_at"),
        MessageKind("staff_notification_failed", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _staff_values("候选人通知发送失败"), "pages/message/open",
                    _staff_text("候选人通知发送失败")),
        MessageKind("candidate_cancelled_by_company", "candidate",
                    "WECHAT_TPL_INTERVIEW_CANCELLED", OA_NOTICE, MP_CANCELLED_FIELDS,
                    _company_cancelled, "pages/message/open", _company_cancelled_text,
                    OA_HR_ALERT_FIELDS, _candidate_oa("面试已取消", "我们将尽快为您重新安排")),
        MessageKind("candidate_cancel_approved", "candidate", "WECHAT_TPL_CANCEL_REQUEST",
                    OA_NOTICE, MP_REQUEST_FIELDS, _request_decided(True), "pages/message/open",
                    _request_decided_text(True), OA_HR_ALERT_FIELDS,
                    _candidate_oa("取消申请已通过", "面试已取消")),
        MessageKind("candidate_cancel_rejected", "candidate", "WECHAT_TPL_CANCEL_REQUEST",
                    OA_NOTICE, MP_REQUEST_FIELDS, _request_decided(False), "pages/message/open",
                    _request_decided_text(False), OA_HR_ALERT_FIELDS,
                    _candidate_oa("取消申请未通过", "请按原时间参加面试"),
                    valid_while=GOING_AHEAD, about_time="scheduled_at"),
        MessageKind("candidate_confirm_reminder", "candidate", "WECHAT_TPL_CONFIRM_REMINDER",
                    OA_NOTICE, MP_REMINDER_FIELDS, _reminder, "pages/interview/detail",
                    _reminder_text, OA_HR_ALERT_FIELDS,
                    _candidate_oa("请确认参加面试", "逾期未确认将自动取消"),
                    valid_while=frozenset({"scheduled"}), about_time="scheduled_at"),
        MessageKind("candidate_slot_offer", "candidate", "WECHAT_TPL_SLOT_OFFER", None,
                    MP_OFFER_FIELDS, _slot_offer, "pages/interview/reschedule",
                    _slot_offer_text),
        MessageKind("staff_interview_cancelled", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _staff_values("面试已取消"), "pages/message/open",
                    _staff_text("面试已取消")),
        MessageKind("staff_daily_digest", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _digest, "pages/message/open", _digest_text),
        # watchdogs (issue 11 §6): one message per alert and HR user
        MessageKind("staff_watchdog_alert", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _watchdog_alert, "pages/message/open",
                    _watchdog_alert_text),
        MessageKind("staff_webhook_disabled", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _webhook_disabled, "pages/message/open",
                    _webhook_disabled_text),
        MessageKind("staff_candidate_cancelled", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _staff_values("候选人取消面试"), "pages/message/open",
                    _staff_text("候选人取消面试")),
        MessageKind("candidate_detail_requested", "candidate", "WECHAT_TPL_CANCEL_REQUEST",
                    OA_NOTICE, MP_REQUEST_FIELDS, _detail_requested, "pages/message/open",
                    _detail_requested_text, OA_HR_ALERT_FIELDS,
                    _candidate_oa("取消申请需补充说明", "请在小程序中补充说明"),
                    valid_while=frozenset({"cancel_pending"})),
        MessageKind("staff_batch_cancelled", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _batch_summary, "pages/message/open",
                    _batch_summary_text),
        MessageKind("staff_approval_needed", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _staff_values("面试取消申请待审批"), "pages/message/open",
                    _staff_text("面试取消申请待审批"), valid_while=frozenset({"cancel_pending"})),
        # issue 11 §4: the rescheduling promise is one working day from being broken
        MessageKind("staff_promise_at_risk", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _promise_at_risk, "pages/message/open",
                    _promise_at_risk_text),
        # issue 11 §4-5: a candidate booked an offered slot (a kept promise or a backfill)
        MessageKind("staff_interview_booked", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _staff_values("候选人已预约面试"), "pages/message/open",
                    _staff_text("候选人已预约面试"), valid_while=GOING_AHEAD),
        # issue 11 §3: a candidate's request still open close to the start, to the
        # department's recruiting managers
        MessageKind("staff_request_escalated", "staff", None, "WECHAT_OA_TPL_HR_ALERT",
                    OA_HR_ALERT_FIELDS, _staff_values("取消申请临近面试未审批"),
                    "pages/message/open", _staff_text("取消申请临近面试仍未审批"),
                    valid_while=frozenset({"cancel_pending"}), about_time="scheduled_at"),
    )
}


# E-mail subjects (and the title shown for SMS/e-mail) per kind.
TITLES = {
    "candidate_cancel_confirmed": "面试取消通知",
    "candidate_cancel_requested": "面试取消申请已提交",
    "candidate_rescheduled": "面试时间变更通知",
    "staff_candidate_cancelled": "候选人取消面试",
    "staff_approval_needed": "面试取消申请待审批",
    "staff_interview_rescheduled": "候选人面试改期",
    "staff_notification_failed": "候选人通知发送失败",
    "staff_webhook_disabled": "对接接口已停用",
    "candidate_cancelled_by_company": "面试取消通知",
    "candidate_cancel_approved": "面试取消申请已通过",
    "candidate_cancel_rejected": "面试取消申请未通过",
    "candidate_confirm_reminder": "面试确认提醒",
    "candidate_slot_offer": "面试空档通知",
    "staff_interview_cancelled": "面试已取消",
    "staff_daily_digest": "面试取消日报",
    "staff_watchdog_alert": "招聘系统提醒",
    "candidate_detail_requested": "面试取消申请需补充说明",
    "staff_batch_cancelled": "面试批量取消完成",
    "staff_promise_at_risk": "重新安排即将逾期",
    "staff_interview_booked": "候选人已预约面试",
    "staff_request_escalated": "取消申请临近面试未审批",
}


# Staff messages open a page of the mobile console (OA web OAuth signs the HR user in),
# not the candidates' mini program (issue 10 §6): the page's path from the context.
def _mobile_interview(c: dict) -> str:
    public_id = c.get("interview_public_id")
    return f"/console/m/interviews/{public_id}" if public_id else "/console/m/"


def _mobile_approvals(c: dict) -> str:
    return "/console/m/approvals"


MOBILE_PAGES: dict[str, Callable[[dict], str]] = {
    "staff_candidate_cancelled": _mobile_interview,
    "staff_interview_cancelled": _mobile_interview,
    "staff_interview_rescheduled": _mobile_interview,
    "staff_notification_failed": _mobile_interview,
    "staff_approval_needed": _mobile_approvals,
    "staff_request_escalated": _mobile_approvals,
}


def get_kind(code: str) -> MessageKind:
    try:
        return MESSAGE_KINDS[code]
    except KeyError:
        raise KeyError(f"unknown message kind {code!r}") from None
