"""Console: 候补名单, the waiting list of each position that HR fills and orders; a freed
place is offered to the first waiting candidate (app.services.backfill). Views translate
only: the service checks the permission, the department scope and audits the change."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import Length

from app.console import bp
from app.console.views import current_actor, permission_required
from app.core.errors import AppError
from app.services.backfill import waitlist

DONE = {"up": "已上移", "down": "已下移"}


class AddForm(FlaskForm):
    interview_number = StringField("面试编号", validators=[
        Length(max=waitlist.NUMBER_MAX_LENGTH, message="面试编号过长")])


class EntryForm(FlaskForm):
    """No visible fields: the CSRF token of 上移 / 下移 / 移出."""
    direction = HiddenField()


def _position_id(raw) -> int | None:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 2**31 else None


@bp.get("/waitlist")
@permission_required("view")
def waitlist_page():
    """Pick a position; its waiting candidates in order (and those who got a place)."""
    actor = current_actor()
    positions = waitlist.positions(actor)
    position_id = _position_id(request.args.get("position_id"))
    if position_id is None and positions:
        position_id = positions[0].id
    entries, position = [], None
    if position_id is not None:
        position = next((p for p in positions if p.id == position_id), None)
        if position is None:
            abort(404)
        entries = waitlist.entries(actor, position_id)
    return render_template("console/waitlist.html", positions=positions, position=position,
                           entries=entries, add_form=AddForm(), entry_form=EntryForm(),
                           can_manage=actor.can(waitlist.MANAGE))


def _back(position_id: int):
    return redirect(url_for("console.waitlist_page", position_id=position_id))


@bp.post("/waitlist/<int:position_id>/add")
@permission_required("view")
def waitlist_add(position_id: int):
    form = AddForm()
    if not form.validate_on_submit():
        flash(form.interview_number.errors[0] if form.interview_number.errors
              else "页面已过期，请刷新后重试", "error")
        return _back(position_id)
    try:
        waitlist.add(current_actor(), position_id, form.interview_number.data)
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
    else:
        flash("已加入候补名单", "success")
    return _back(position_id)


@bp.post("/waitlist/entries/<int:entry_id>/<action>")
@permission_required("view")
def waitlist_change(entry_id: int, action: str):
    if action not in ("move", "remove"):
        abort(404)
    form = EntryForm()
    if not form.validate_on_submit():
        abort(400)
    actor = current_actor()
    if action == "move":
        if form.direction.data not in DONE:
            abort(400)
        entry = waitlist.move(actor, entry_id, form.direction.data)
        flash(DONE[form.direction.data], "success")
    else:
        entry = waitlist.remove(actor, entry_id)
        flash("已移出候补名单", "success")
    return _back(entry.position_id)
