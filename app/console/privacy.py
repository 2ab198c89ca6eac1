"""Console: personal data (PIPL). Candidates' erasure requests with their deadlines
(admins and recruiting managers, in their departments; 立即删除 runs the same
anonymisation as the retention job, which also carries out what is still pending at the
deadline), and the privacy rules (admins)."""
from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for

from app.console import bp
from app.console.settings.form_errors import error_codes, field_errors
from app.console.views import current_actor, permission_required
from app.core.errors import ValidationFailed
from app.core.timeutil import utcnow
from app.services.candidates import privacy as service


def _page(*, form=None, errors=None, codes=None, status=200):
    actor = current_actor()
    now = utcnow()
    rows = service.list_requests(actor)
    rules = service.get_privacy_rules()
    return render_template(
        "console/privacy.html", rows=rows, now=now, rules=rules, labels=service.LABELS,
        days_left={r.id: service.working_days_left(r, now) for r in rows},
        # due_at is the midnight that ends the last day: show that day's 23:59
        due_shown={r.id: r.due_at - timedelta(minutes=1) for r in rows},
        open_interviews=service.open_interviews(
            [r.candidate_id for r in rows if r.status.value == "pending"]),
        can_edit=actor.can("settings"), form=form or {}, errors=errors or {},
        codes=codes or {}), status


@bp.get("/privacy")
@permission_required(service.PRIVACY_PERMISSION)
def privacy_page():
    return _page()


@bp.post("/privacy/requests/<int:request_id>/erase")
@permission_required(service.PRIVACY_PERMISSION)
def privacy_erase(request_id: int):
    try:
        service.erase_by_hr(current_actor(), request_id, utcnow())
    except service.ErasureWithOpenInterviews as exc:
        flash(exc.message, "error")
    else:
        flash("已删除该候选人的个人信息（面试与取消记录保留，报表数量不变）。", "success")
    return redirect(url_for("console.privacy_page"))


def _int(value: str):
    try:
        return int(value.strip())
    except (AttributeError, ValueError):
        return value


@bp.post("/privacy/rules")
@permission_required("settings")
def privacy_rules_save():
    form = {k: request.form.get(k, "") for k in ("retention_days",
                                                 "erasure_deadline_working_days",
                                                 "notice_version")}
    changes = {"retention_days": _int(form["retention_days"]),
               "erasure_deadline_working_days": _int(form["erasure_deadline_working_days"]),
               "notice_version": form["notice_version"],
               "require_notice_version": request.form.get("require_notice_version") == "on"}
    try:
        service.change_privacy_rules(current_actor(), changes, ip=request.remote_addr)
    except ValidationFailed as exc:
        return _page(form=form, errors=field_errors(exc), codes=error_codes(exc), status=422)
    flash("个人信息规则已保存，立即生效。", "success")
    return redirect(url_for("console.privacy_page"))
