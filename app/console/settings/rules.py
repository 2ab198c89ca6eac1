"""Console settings: the company's rules and the rules set per position (admins)."""
from __future__ import annotations

from dataclasses import asdict

from flask import flash, redirect, render_template, request, url_for

from app.console import bp
from app.console.settings.form_errors import client_ip, error_codes, field_errors
from app.console.views import current_actor, permission_required
from app.core.errors import ValidationFailed
from app.services.rules import get_rules, store
from app.services.rules import positions as position_rules

NUMBER_RULES = ("cancel_deadline_hours", "confirm_window_hours", "reminder_lead_hours",
                "auto_cancel_unconfirmed_hours", "reschedule_window_working_days",
                "notify_promise_minutes", "note_max_length", "cancel_rate_alert_percent")
# Requests nobody decided (issue 11 §3); a form without them (an older page) keeps them.
UNANSWERED_RULES = ("escalation_lead_hours", "unanswered_request_at_start")


def _number(raw: str):
    """A whole number as typed, or the text itself (the service then names the field)."""
    raw = (raw or "").strip()
    try:
        return int(raw)
    except ValueError:
        return raw


def _page(*, form=None, errors=None, codes=None, position_errors=None, status=200):
    actor = current_actor()
    rules = asdict(get_rules())
    positions = position_rules.list_positions(actor)
    levels = sorted(set(position_rules.position_levels(actor))
                    | set(rules["second_approval_levels"]))
    return render_template(
        "console/settings/rules.html", rules=rules, form=form or rules, errors=errors or {},
        codes=codes or {}, positions=positions, levels=levels, labels=store.LABELS,
        limits=store.LIMITS, position_errors=position_errors or {}), status


@bp.get("/settings/rules")
@permission_required("settings")
def settings_rules():
    """Every rule with its value in force, and the positions' own rules."""
    return _page()


@bp.post("/settings/rules")
@permission_required("settings")
def settings_rules_save():
    """Save the company's rules: they take effect at once in every process."""
    changes = {name: _number(request.form.get(name, "")) for name in NUMBER_RULES}
    changes["after_deadline"] = request.form.get("after_deadline", "")
    changes["hr_contact"] = request.form.get("hr_contact", "")
    for name in UNANSWERED_RULES:
        if name in request.form:
            raw = request.form.get(name, "")
            changes[name] = _number(raw) if name.endswith("_hours") else raw
    changes["second_approval_levels"] = request.form.getlist("second_approval_levels")
    try:
        store.change_rules(current_actor(), changes, ip=client_ip())
    except ValidationFailed as exc:
        return _page(form={**asdict(get_rules()), **changes}, errors=field_errors(exc),
                     codes=error_codes(exc), status=exc.status)
    flash("规则已保存，立即生效", "success")
    return redirect(url_for("console.settings_rules"))


@bp.post("/settings/rules/positions/<int:position_id>")
@permission_required("settings")
def settings_position_rules_save(position_id: int):
    """Save one position's review flag and auto-cancel hours."""
    raw = request.form.get("auto_cancel_unconfirmed_hours", "").strip()
    hours = _number(raw) if raw else None
    try:
        position = position_rules.update_position_rules(
            current_actor(), position_id,
            cancel_requires_review=request.form.get("cancel_requires_review") == "y",
            auto_cancel_unconfirmed_hours=hours, ip=client_ip())
    except ValidationFailed as exc:
        return _page(position_errors={position_id: {"errors": field_errors(exc),
                                                    "codes": error_codes(exc), "raw": raw}},
                     status=exc.status)
    flash(f"已保存岗位“{position.title}”的规则", "success")
    return redirect(url_for("console.settings_rules") + f"#position-{position_id}")
