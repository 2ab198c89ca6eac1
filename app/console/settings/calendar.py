"""Console settings: the working-day calendar's overrides (admins), by year."""
from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for

from app.console import bp
from app.console.settings.form_errors import client_ip, error_codes, field_errors
from app.console.views import current_actor, permission_required
from app.core.errors import ValidationFailed
from app.core.timeutil import utcnow
from app.services.cancellation.commands import reschedule_deadline
from app.services.rules import calendar as service
from app.services.rules import get_rules


def _year() -> int:
    year = request.args.get("year", type=int)
    low, high = service.YEAR_LIMITS
    return year if year is not None and low <= year <= high else service.today().year


def _page(year: int, *, form=None, errors=None, codes=None, status=200):
    actor = current_actor()
    rows = service.year_overrides(actor, year)
    rules = get_rules()
    return render_template(
        "console/settings/calendar.html", year=year, rows=rows, form=form or {},
        errors=errors or {}, codes=codes or {},
        has_data=service.has_statutory_data(year),
        next_year_has_data=service.has_statutory_data(year + 1),
        deadline=reschedule_deadline(utcnow(), rules), window=rules.reschedule_window_working_days,
        note_max=service.NOTE_MAX_LENGTH), status


@bp.get("/settings/calendar")
@permission_required("settings")
def settings_calendar():
    """A year's overrides, with a warning when the statutory calendar lacks that year."""
    year = _year()
    edit = request.args.get("edit")
    form = {}
    if edit:
        try:
            day = date.fromisoformat(edit)
        except ValueError:
            day = None
        match = [r for r in service.year_overrides(current_actor(), year) if r.day == day]
        if match:
            form = {"day": match[0].day.isoformat(),
                    "kind": "workday" if match[0].is_workday else "holiday",
                    "note": match[0].note or ""}
    return _page(year, form=form)


@bp.post("/settings/calendar")
@permission_required("settings")
def settings_calendar_save():
    """Set a day as a working day or a holiday (adds or replaces its override)."""
    raw_day = request.form.get("day", "").strip()
    kind = request.form.get("kind", "")
    note = request.form.get("note", "")
    form = {"day": raw_day, "kind": kind, "note": note}
    errors, codes = {}, {}
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        day = None
        errors["day"], codes["day"] = "请选择日期（格式 2027-01-01）", "field_invalid"
    if kind not in ("workday", "holiday"):
        errors["kind"], codes["kind"] = "请选择工作日或休息日", "field_required"
    year = day.year if day else _year()
    if not errors:
        try:
            service.save_day(current_actor(), day, kind == "workday", note, ip=client_ip())
        except ValidationFailed as exc:
            errors, codes = field_errors(exc), error_codes(exc)
            if "year" in errors:
                errors["day"], codes["day"] = errors.pop("year"), codes.pop("year")
    if errors:
        return _page(year if service.YEAR_LIMITS[0] <= year <= service.YEAR_LIMITS[1]
                     else service.today().year, form=form, errors=errors, codes=codes,
                     status=422)
    flash(f"已将 {day.isoformat()} 设为{'工作日' if kind == 'workday' else '休息日'}", "success")
    return redirect(url_for("console.settings_calendar", year=day.year))


@bp.post("/settings/calendar/<day>/delete")
@permission_required("settings")
def settings_calendar_remove(day: str):
    """Remove a day's override: it follows the statutory calendar again."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        flash("日期格式有误", "error")
        return redirect(url_for("console.settings_calendar"))
    removed = service.remove_day(current_actor(), parsed, ip=client_ip())
    flash(f"已删除 {parsed.isoformat()} 的设置，恢复按法定日历" if removed
          else "该日期没有自定义设置", "success" if removed else "info")
    return redirect(url_for("console.settings_calendar", year=parsed.year))
