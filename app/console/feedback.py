"""Console: what candidates wrote to HR (mini program and Official Account), in the user's
scope; HR answers an Official Account message with a customer-service message while
WeChat's 48-hour window is open, and the page says plainly when it is not."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from app.console import bp
from app.console.views import current_actor, permission_required
from app.core.errors import AppError
from app.core.timeutil import utcnow
from app.queries.candidates.feedback import PAGE_SIZE, list_feedback, replies_of, reply_windows
from app.services.candidates import feedback as feedback_service


class ReplyForm(FlaskForm):
    reply = TextAreaField("回复", validators=[Length(max=feedback_service.REPLY_MAX_LENGTH)])


@bp.get("/feedback")
@permission_required("view")
def feedback():
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 10**6)
    rows, total = list_feedback(page, actor=current_actor())
    ids = [fb.id for fb, _, _ in rows]
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template("console/feedback.html", rows=rows, total=total, page=page,
                           pages=pages, windows=reply_windows(ids), replies=replies_of(ids),
                           now=utcnow(), form=ReplyForm())


@bp.post("/feedback/<int:feedback_id>/reply")
@permission_required("view")
def reply_feedback(feedback_id: int):
    """回复: the service checks scope, origin, the 48-hour window and the text."""
    if not 0 < feedback_id < 2**31:
        abort(404)
    form = ReplyForm()
    if not form.validate_on_submit():
        flash(f"回复内容最多{feedback_service.REPLY_MAX_LENGTH}个字"
              if form.reply.errors else "页面已过期，请刷新后重试", "error")
        return redirect(url_for("console.feedback"))
    try:
        feedback_service.reply_to_feedback(current_actor(), feedback_id, form.reply.data)
    except AppError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
    else:
        flash("已通过公众号客服消息回复候选人", "success")
    page = request.form.get("page", type=int)
    return redirect(url_for("console.feedback", page=page) if page and page > 1
                    else url_for("console.feedback"))
