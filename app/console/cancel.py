"""HR cancels one interview (the 取消面试 dialog on the interview page)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from app.console import bp
from app.console.forms import CancelForm
from app.console.views import current_actor, permission_required
from app.core.errors import AppError
from app.services import cancellation
from app.services.interviews.recipients import STAFF_ROLES


@bp.post("/interviews/<public_id>/cancel")
@permission_required("view")
def cancel_interview(public_id: str):
    """确认取消: the service checks permission, scope, reason and state."""
    form = CancelForm()
    if not form.validate_on_submit():
        abort(400)
    notify = frozenset(r for r in request.form.getlist("notify") if r in STAFF_ROLES)
    try:
        outcome = cancellation.cancel_by_hr(
            current_actor(), public_id, reason_code=form.reason_code.data,
            note=form.note.data, notify=notify, reschedule=form.reschedule.data)
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
    else:
        told = "、".join(filter(None, ["候选人" if "candidate" in notify else None,
                                      "相关招聘团队" if notify - {"candidate"} else None]))
        flash(f"已取消面试 {outcome.interview.number}" + (f"，已通知{told}" if told else ""),
              "success")
    return redirect(url_for("console.interview_detail", public_id=public_id))
