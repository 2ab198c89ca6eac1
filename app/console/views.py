"""HR console routes: interview list and detail (login and logout: app.console.auth)."""
from __future__ import annotations

import logging
from datetime import date
from functools import wraps

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from app.console import bp, display
from app.console.forms import BatchSelectForm, CancelForm, LogoutForm, UnbindWechatForm
from app.core.errors import AppError
from app.core.request_context import current_request_id
from app.models import ActorType, InterviewStatus
from app.queries.interviews.candidate import company_cancel_reasons
from app.queries.interviews.console import (
    MAX_QUERY_LENGTH,
    Filters,
    candidate_id_of,
    filter_choices,
    get_interview_detail,
    list_interviews,
)
from app.queries.interviews.deliveries import deliveries_of
from app.services import cancellation
from app.services.cancellation import batch
from app.services.candidates import binding
from app.services.interviews.recipients import STAFF_ROLE_LABELS, STAFF_ROLES
from app.services.users.actor import Actor
from app.services.webhooks.events import EVENT_LABELS

NOTIFY_ROLES = [(role, STAFF_ROLE_LABELS[role]) for role in STAFF_ROLES]

log = logging.getLogger(__name__)

display.register(bp)


def permission_required(permission: str):
    """Require login and the given role permission (403 page otherwise)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.can(permission):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


@bp.context_processor
def inject_logout_form():
    """Every console page has the 退出 form in its top bar."""
    return {"logout_form": LogoutForm()}


@bp.errorhandler(CSRFError)
def csrf_error(exc):
    """Missing or expired CSRF token: a Chinese page instead of a bare 400."""
    return render_template("console/error.html", title="页面已过期",
                           message="页面已过期或请求无效，请返回刷新后重试。"), 400


@bp.errorhandler(403)
def forbidden(exc):
    """Role lacks the permission."""
    return render_template("console/error.html", title="没有权限",
                           message="您没有权限访问此页面。"), 403


@bp.errorhandler(404)
def not_found(exc):
    """Unknown record (e.g. another or a made-up interview id)."""
    return render_template("console/error.html", title="未找到",
                           message="未找到该记录，可能已被删除或链接有误。"), 404


@bp.get("/")
def index():
    """The console starts at the interview list."""
    return redirect(url_for("console.interviews"))


@bp.errorhandler(AppError)
def app_error(exc: AppError):
    """A refused action on a page: its Chinese message and the right status."""
    titles = {403: "没有权限", 404: "未找到"}
    return render_template("console/error.html", title=titles.get(exc.status, "无法完成操作"),
                           message=exc.message), exc.status


def current_actor() -> Actor:
    """The logged-in HR user as the services' Actor (role, permissions, departments),
    acting from this request's client address (what the audit log records)."""
    return Actor.hr(current_user._get_current_object()).from_ip(
        request.remote_addr).in_request(current_request_id())


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, "")) if request.args.get(name) \
            else None
    except ValueError:
        return None


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, type=int)
    return value if value is not None and 0 < value < 2**31 else None


def filters_from_args() -> Filters:
    initiator = request.args.get("initiator")
    return Filters(
        q=request.args.get("q", "").strip()[:MAX_QUERY_LENGTH] or None,
        status=_status_arg(request.args.get("status")),
        date_from=_date_arg("date_from"), date_to=_date_arg("date_to"),
        session_id=_int_arg("session_id"),
        department=request.args.get("department", "").strip()[:100] or None,
        position_id=_int_arg("position_id"),
        initiator=ActorType(initiator) if initiator in {a.value for a in ActorType} else None,
        sort="asc" if request.args.get("sort") == "asc" else "desc")


@bp.get("/interviews")
@permission_required("view")
def interviews():
    """Interview list: search by text, status, dates, session, department, position and
    initiator, in the user's scope; rows can be ticked for 批量取消."""
    actor = current_actor()
    filters = filters_from_args()
    page = list_interviews(page=min(max(request.args.get("page", 1, type=int), 1), 10**6),
                           actor=actor, filters=filters)
    return render_template("console/interviews.html", result=page, filters=filters,
                           q=filters.q or "", status=filters.status,
                           statuses=list(InterviewStatus), choices=filter_choices(actor),
                           sessions=batch.session_choices(actor),
                           can_batch=actor.can("batch_cancel"),
                           batch_form=BatchSelectForm())


@bp.get("/interviews/<public_id>")
@permission_required("view")
def interview_detail(public_id: str):
    """One interview: cancellations, notifications and audit trail; 取消面试 for roles
    that may cancel it."""
    actor = current_actor()
    detail = get_interview_detail(public_id, actor)
    if detail is None:
        abort(404)
    form = CancelForm()
    form.reason_code.choices = [(r.code, r.label) for r in company_cancel_reasons()]
    return render_template("console/interview_detail.html", detail=detail,
                           interview=detail.interview,
                           deliveries=deliveries_of(public_id), event_labels=EVENT_LABELS,
                           wechat_bound=binding.bound_account(
                               detail.interview.candidate_id) is not None,
                           unbind_form=UnbindWechatForm(),
                           can_cancel=cancellation.hr_can_cancel(actor, detail.interview),
                           cancel_form=form, reasons=company_cancel_reasons(),
                           notify_roles=NOTIFY_ROLES)


@bp.post("/interviews/<public_id>/unbind-wechat")
@permission_required("rebind")
def unbind_wechat(public_id: str):
    """Remove the candidate's WeChat binding and log that WeChat user out everywhere."""
    candidate_id = candidate_id_of(public_id, current_actor())
    if candidate_id is None:
        abort(404)
    if not UnbindWechatForm().validate_on_submit():
        abort(400)
    try:
        revoked = binding.unbind_by_hr(candidate_id, actor_id=current_user.id,
                                       ip=request.remote_addr)
    except binding.NotBoundToWechat as exc:
        flash(exc.message, "error")
    else:
        flash(f"已解除微信绑定，该微信的 {revoked} 个登录会话已失效。"
              "候选人可通过新的面试邀请重新绑定。", "success")
    return redirect(url_for("console.interview_detail", public_id=public_id))


def _status_arg(value: str | None) -> InterviewStatus | None:  # noqa: D401
    try:
        return InterviewStatus(value) if value else None
    except ValueError:
        return None
