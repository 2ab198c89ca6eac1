"""Mobile console pages: 待我审批, one interview with its notification status, 取消面试,
同意 / 驳回.

Views translate only: the read side is the desktop's (approval_queue,
get_interview_detail), the actions are the desktop's services (cancellation.approve /
reject / cancel_by_hr) with the same Actor (app.console.views.current_actor), so the role,
department, level and reason checks are the ones the desktop console runs. Interview ids
in URLs are the desktop's opaque public ids; another department's interview is a 404.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from app.console.approvals import ACTIONS, DONE
from app.console.forms import CancelForm, DecisionForm
from app.console.m import bp
from app.console.m.auth import message_page, mobile_next, mobile_required
from app.console.views import NOTIFY_ROLES, current_actor
from app.core.errors import AppError
from app.models import CancellationState
from app.queries.interviews.approvals import approval_queue, request_facts
from app.queries.interviews.candidate import company_cancel_reasons
from app.queries.interviews.console import get_interview_detail
from app.queries.interviews.deliveries import deliveries_of
from app.services import cancellation
from app.services.cancellation.policy import may_decide, pending_level
from app.services.interviews.recipients import STAFF_ROLES
from app.services.webhooks.events import EVENT_LABELS
from templates_msg.catalogue import TITLES as MESSAGE_TITLES

# What the phone offers of the desktop's decisions (要求补充说明 stays on the desktop).
MOBILE_ACTIONS = ("approve", "reject")
OPEN_STATES = (CancellationState.REQUESTED, CancellationState.DETAIL_REQUESTED)


def first_error(form) -> str:
    """The form's first message (a length limit: CSRF failures never get this far)."""
    return next((error for errors in form.errors.values() for error in errors), "请求无效")


@bp.get("/approvals")
@mobile_required("view")
def approvals():
    """待我审批: the open requests in the user's scope, those this user may decide first."""
    items = approval_queue(current_actor(), state="open")
    items.sort(key=lambda item: not item.can_decide)  # stable: oldest first within each
    return render_template("console/m/approvals.html", items=items, form=DecisionForm(),
                           mine=sum(1 for item in items if item.can_decide))


@bp.post("/approvals/<int:cancellation_id>/<action>")
@mobile_required("view")
def decide(cancellation_id: int, action: str):
    """同意 / 驳回 one request; the service checks level, role, department and the reason."""
    if action not in MOBILE_ACTIONS or not 0 < cancellation_id < 2**31:
        abort(404)
    form = DecisionForm()
    back = mobile_next(request.form.get("back")) or url_for("console.mobile.approvals")
    if not form.validate_on_submit():
        flash(first_error(form), "error")
        return redirect(back)
    try:
        outcome = ACTIONS[action](current_actor(), cancellation_id,
                                  (form.comment.data or "").strip() or None)
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
    else:
        waiting = action == "approve" and not outcome.final
        flash(f"{DONE[action]}：{outcome.request.interview.number}"
              + ("，等待二级审批" if waiting else ""), "success")
    return redirect(back)


@bp.get("/interviews/<public_id>")
@mobile_required("view")
def interview_detail(public_id: str):
    """One interview: facts, open request (with 同意 / 驳回 when this user may decide),
    who was told and how far each message got, and 取消面试 for roles that may."""
    actor = current_actor()
    detail = get_interview_detail(public_id, actor)
    if detail is None:
        abort(404)
    requests_open = []
    for c in detail.cancellations:
        if c.state in OPEN_STATES:
            facts = request_facts(c)
            requests_open.append((c, pending_level(facts), may_decide(facts, actor)))
    return render_template("console/m/interview.html", detail=detail,
                           interview=detail.interview, open_requests=requests_open,
                           deliveries=deliveries_of(public_id), event_labels=EVENT_LABELS,
                           can_cancel=cancellation.hr_can_cancel(actor, detail.interview),
                           cancel_form=CancelForm(), decision_form=DecisionForm(),
                           reasons=company_cancel_reasons(), notify_roles=NOTIFY_ROLES,
                           message_titles=MESSAGE_TITLES)


@bp.post("/interviews/<public_id>/cancel")
@mobile_required("view")
def cancel_interview(public_id: str):
    """取消面试 with a company-side reason (required) and a note."""
    form = CancelForm()
    if not form.validate_on_submit():
        flash(first_error(form), "error")
        return redirect(url_for("console.mobile.interview_detail", public_id=public_id))
    notify = frozenset(r for r in request.form.getlist("notify") if r in STAFF_ROLES)
    try:
        outcome = cancellation.cancel_by_hr(
            current_actor(), public_id, reason_code=form.reason_code.data or None,
            note=(form.note.data or "").strip() or None, notify=notify)
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
    else:
        flash(f"已取消面试 {outcome.interview.number}"
              + ("，已通知相关人员" if notify else ""), "success")
    return redirect(url_for("console.mobile.interview_detail", public_id=public_id))


# --- errors on phone-sized pages (the console's own handlers serve the desktop) ----------

@bp.errorhandler(CSRFError)
def csrf_error(exc):
    return message_page("页面已过期", "页面已过期或请求无效，请返回刷新后重试。",
                        "csrf_invalid", 400, retry=False)


@bp.errorhandler(403)
def forbidden(exc):
    return message_page("没有权限", "您没有权限访问此页面。", "forbidden", 403, retry=False)


@bp.errorhandler(404)
def not_found(exc):
    return message_page("未找到", "未找到该记录，可能已被删除或链接有误。", "not_found", 404,
                        retry=False)


@bp.errorhandler(AppError)
def app_error(exc: AppError):
    titles = {403: "没有权限", 404: "未找到"}
    return message_page(titles.get(exc.status, "无法完成操作"), exc.message, exc.code,
                        exc.status, retry=False)
