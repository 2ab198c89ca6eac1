"""Console: what candidates wrote to HR from the mini program."""
from __future__ import annotations

from flask import render_template, request

from app.console import bp
from app.console.views import permission_required
from app.queries.candidates.feedback import PAGE_SIZE, list_feedback


@bp.get("/feedback")
@permission_required("view")
def feedback():
    page = request.args.get("page", 1, type=int) or 1
    rows, total = list_feedback(page)
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template("console/feedback.html", rows=rows, total=total, page=page,
                           pages=pages)
