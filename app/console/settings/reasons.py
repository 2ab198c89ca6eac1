"""Console settings: cancel reasons (admins): list, add, edit, retire, reactivate."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from app.console import bp
from app.console.settings.form_errors import client_ip, error_codes, field_errors
from app.console.views import current_actor, permission_required
from app.core.errors import Conflict, ValidationFailed
from app.models import ReasonActor
from app.services.rules import reasons as service

FIELDS = ("label", "category", "actor", "note_max_length", "sort_order")


def _submitted() -> dict:
    values = {name: request.form.get(name, "") for name in FIELDS}
    values["requires_note"] = request.form.get("requires_note") == "y"
    return values


def _page(*, form=None, errors=None, codes=None, editing=None, status=200):
    rows = service.list_reasons(current_actor())
    return render_template(
        "console/settings/reasons.html", rows=rows, form=form or {}, errors=errors or {},
        codes=codes or {}, editing=editing, categories=service.CATEGORY_LABELS,
        sides=service.SIDE_LABELS, actors=list(ReasonActor),
        system_codes=service.SYSTEM_CODES), status


@bp.get("/settings/reasons")
@permission_required("settings")
def settings_reasons():
    """Every reason, active and retired, and the form to add one."""
    return _page()


@bp.post("/settings/reasons")
@permission_required("settings")
def settings_reason_create():
    """Add a reason (its code never changes afterwards)."""
    values = _submitted()
    code = request.form.get("code", "")
    try:
        reason = service.create_reason(current_actor(), code=code, ip=client_ip(), **values)
    except (ValidationFailed, Conflict) as exc:
        return _page(form={**values, "code": code}, errors=field_errors(exc),
                     codes=error_codes(exc), status=exc.status)
    flash(f"已添加取消原因“{reason.label}”", "success")
    return redirect(url_for("console.settings_reasons"))


@bp.get("/settings/reasons/<int:reason_id>")
@permission_required("settings")
def settings_reason_edit(reason_id: int):
    """The edit form of one reason."""
    reason = service.get_reason(current_actor(), reason_id)
    return render_template("console/settings/reason_edit.html", reason=reason,
                           form=_reason_form(reason), errors={}, codes={},
                           categories=service.CATEGORY_LABELS, sides=service.SIDE_LABELS,
                           actors=list(ReasonActor))


def _reason_form(reason) -> dict:
    return {"label": reason.label, "category": reason.category, "actor": reason.actor.value,
            "requires_note": reason.requires_note,
            "note_max_length": reason.note_max_length, "sort_order": reason.sort_order}


@bp.post("/settings/reasons/<int:reason_id>")
@permission_required("settings")
def settings_reason_update(reason_id: int):
    """Save a reason's label, category, side, note rules and order."""
    actor = current_actor()
    values = _submitted()
    try:
        reason = service.update_reason(actor, reason_id, ip=client_ip(), **values)
    except (ValidationFailed, Conflict) as exc:
        reason = service.get_reason(actor, reason_id)
        return render_template("console/settings/reason_edit.html", reason=reason,
                               form=values, errors=field_errors(exc), codes=error_codes(exc),
                               categories=service.CATEGORY_LABELS,
                               sides=service.SIDE_LABELS,
                               actors=list(ReasonActor)), exc.status
    flash(f"已保存取消原因“{reason.label}”", "success")
    return redirect(url_for("console.settings_reasons"))


@bp.post("/settings/reasons/<int:reason_id>/<any(retire, reactivate):action>")
@permission_required("settings")
def settings_reason_active(reason_id: int, action: str):
    """停用 (no longer offered; old records keep its label) or 启用 a reason."""
    try:
        reason = service.set_reason_active(current_actor(), reason_id, action == "reactivate",
                                           ip=client_ip())
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("console.settings_reasons"))
    if reason is None:
        abort(404)
    flash(f"已停用“{reason.label}”：候选人和HR不再能选择它，历史记录仍显示该原因"
          if action == "retire" else f"已重新启用“{reason.label}”", "success")
    return redirect(url_for("console.settings_reasons"))
