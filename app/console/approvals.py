"""待审批: candidates' cancellation requests; 同意 / 驳回 / 要求补充说明."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from app.console import bp
from app.console.forms import DecisionForm
from app.console.views import current_actor, permission_required
from app.core.errors import AppError
from app.queries.interviews.approvals import approval_queue
from app.queries.interviews.console import filter_choices
from app.services import cancellation

ACTIONS = {"approve": cancellation.approve, "reject": cancellation.reject,
           "ask-detail": cancellation.ask_for_detail}
DONE = {"approve": "已同意", "reject": "已驳回", "ask-detail": "已要求候选人补充说明"}


@bp.get("/approvals")
@permission_required("view")
def approvals():
    """The queue, filterable by state, department and 'mine to decide'."""
    actor = current_actor()
    state = request.args.get("state", "open")
    department = request.args.get("department", "").strip()[:100] or None
    mine = request.args.get("mine") == "1"
    items = approval_queue(actor, state=state, department=department, mine=mine)
    return render_template("console/approvals.html", items=items, state=state,
                           department=department, mine=mine, form=DecisionForm(),
                           choices=filter_choices(actor))


@bp.post("/approvals/<int:cancellation_id>/<action>")
@permission_required("view")
def decide(cancellation_id: int, action: str):
    """One decision; the service checks level, role, department and the comment."""
    if action not in ACTIONS or not 0 < cancellation_id < 2**31:
        abort(404)
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        outcome = ACTIONS[action](current_actor(), cancellation_id, form.comment.data)
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
    else:
        level = f"（第{outcome.level}级）" if outcome.request.approvals and \
            len(outcome.request.approvals) > 1 else ""
        flash(f"{DONE[action]}{level}：{outcome.request.interview.number}"
              + ("，等待二级审批" if action == "approve" and not outcome.final else ""),
              "success")
    return redirect(request.form.get("back") if request.form.get("back", "").startswith(
        "/console/") else url_for("console.approvals"))
