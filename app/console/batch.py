"""批量取消 (recruiting managers and admins): select, preview, confirm, progress."""
from __future__ import annotations

from datetime import date

from flask import abort, redirect, render_template, request, url_for

from app.console import bp
from app.console.forms import BatchConfirmForm, BatchPreviewForm
from app.console.views import current_actor, permission_required
from app.core.errors import AppError
from app.queries.interviews.candidate import company_cancel_reasons
from app.queries.interviews.console import filter_choices
from app.services.cancellation import batch


def _criteria() -> batch.Criteria:
    def number(name):
        value = request.values.get(name, type=int)
        return value if value is not None and 0 < value < 2**31 else None

    def day(name):
        try:
            return date.fromisoformat(request.values.get(name, "")) \
                if request.values.get(name) else None
        except ValueError:
            return None

    ids = tuple(dict.fromkeys(i[:40] for i in request.values.getlist("interview_ids")
                              if i))[:batch.MAX_BATCH]
    return batch.Criteria(number("session_id"), number("position_id"), day("date_from"),
                          day("date_to"), ids)


@bp.route("/batch", methods=["GET", "POST"])
@permission_required("view")
def batch_cancel():
    """Choose what to cancel and why; POST shows the preview (nothing is written yet)."""
    actor = current_actor()
    if not actor.can("batch_cancel"):
        # The service refuses too; the page would only offer what cannot be done.
        raise batch.policy.PermissionDenied("只有招聘经理或管理员可以批量取消")
    form = BatchPreviewForm()
    reasons = company_cancel_reasons()
    form.reason_code.choices = [(r.code, r.label) for r in reasons]
    criteria = _criteria()
    preview, error = None, None
    if request.method == "POST" and request.form.get("step") == "preview":
        if not form.validate_on_submit():
            abort(400)
        try:
            preview = batch.preview(actor, criteria, reason_code=form.reason_code.data,
                                    note=form.note.data, reschedule=form.reschedule.data)
        except AppError as exc:
            if exc.status in (403, 404):
                raise
            error = exc.message
    return render_template("console/batch.html", form=form, criteria=criteria,
                           preview=preview, error=error, confirm_form=BatchConfirmForm(),
                           sessions=batch.session_choices(actor),
                           choices=filter_choices(actor), reasons=reasons)


@bp.post("/batch/confirm")
@permission_required("view")
def batch_confirm():
    """确认批量取消: the same preview confirmed twice is one batch."""
    form = BatchConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    created = batch.confirm(current_actor(), form.token.data or "")
    return redirect(url_for("console.batch_progress", public_id=created.public_id))


@bp.get("/batch/<public_id>")
@permission_required("view")
def batch_progress(public_id: str):
    """Progress (done / total) until the result summary."""
    found = batch.get_batch(current_actor(), public_id[:40])
    return render_template("console/batch_progress.html", batch=found)


@bp.get("/batch/<public_id>/status.json")
@permission_required("view")
def batch_status(public_id: str):
    found = batch.get_batch(current_actor(), public_id[:40])
    return {"status": found.status.value, "status_label": found.status.label,
            "total": found.total, "processed": found.processed, "cancelled": found.cancelled,
            "skipped": len(found.skipped or [])}
