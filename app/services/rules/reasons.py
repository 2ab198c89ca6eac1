"""Cancel reasons, the catalogue HR maintains: add, edit, retire, reactivate.

A reason's code is what programs (the mini program, the integration API, webhooks,
reports) use: it is lower snake_case ASCII, unique, and never changes once created. A
retired reason (active=False) disappears from the pickers (GET /api/mp/v1/cancel-reasons,
the console's cancel dialog and batches) but stays on the cancellations that used it, so
old records keep showing its label.
"""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import CancelReason, ReasonActor
from app.services import audit
from app.services.rules.store import all_errors, require_settings

CODE_RE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
CODE_MAX = 40
LABEL_MAX = 40
NOTE_LIMITS = (10, 1000)
SORT_LIMITS = (0, 100000)

CATEGORY_LABELS = {
    "candidate_initiated": "候选人原因",
    "position_change": "岗位变动",
    "candidate_mismatch": "候选人不匹配",
    "technical": "技术原因",
    "system": "系统规则",
    "other": "其他",
}
SIDE_LABELS = {ReasonActor.CANDIDATE: "候选人", ReasonActor.COMPANY: "公司"}
# Reasons the system's own jobs give: retiring one would stop the job.
SYSTEM_CODES = frozenset({"unconfirmed_timeout", "privacy_erasure"})
EDITABLE = ("label", "category", "actor", "requires_note", "note_max_length", "sort_order")


class ReasonNotFound(NotFound):
    code = "reason_not_found"
    message = "未找到该取消原因"


def _invalid(field: str, message: str, code: str = "field_invalid") -> ValidationFailed:
    return ValidationFailed(message, code=code, details={"field": field})


def _snapshot(reason: CancelReason) -> dict:
    return {"code": reason.code, "label": reason.label, "category": reason.category,
            "actor": reason.actor.value, "requires_note": reason.requires_note,
            "note_max_length": reason.note_max_length, "sort_order": reason.sort_order,
            "active": reason.active}


def _int(field: str, value, limits: tuple[int, int], label: str) -> int:
    low, high = limits
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _invalid(field, f"{label}必须是 {low} 到 {high} 之间的整数", "field_out_of_range")
    return value


def clean_fields(values: dict) -> dict:
    """The editable fields, checked: label, category, side, note rules, order (every bad
    one reported, each beside its field)."""
    clean, errors = _collect(values)
    if errors:
        raise all_errors(errors)
    return clean


def _collect(values: dict) -> tuple[dict, list[ValidationFailed]]:
    clean, errors = {}, []
    for field, value in values.items():
        try:
            clean[field] = _clean_field(field, value)
        except ValidationFailed as exc:
            errors.append(exc)
    return clean, errors


def _clean_field(field: str, value):
    if field == "label":
        label = value.strip() if isinstance(value, str) else ""
        if not label:
            raise _invalid(field, "请填写原因名称", "field_required")
        if len(label) > LABEL_MAX:
            raise _invalid(field, f"原因名称最多{LABEL_MAX}个字", "field_too_long")
        return label
    if field == "category":
        if value not in CATEGORY_LABELS:
            raise _invalid(field, "请选择原因类别", "field_required" if not value else
                           "field_invalid")
        return value
    if field == "actor":
        try:
            return ReasonActor(value)
        except ValueError:
            raise _invalid(field, "适用方只能是候选人或公司") from None
    if field == "requires_note":
        if not isinstance(value, bool):
            raise _invalid(field, "“必须填写说明”只能是是或否")
        return value
    if field == "note_max_length":
        return _int(field, value, NOTE_LIMITS, "说明最多字数")
    if field == "sort_order":
        return _int(field, value, SORT_LIMITS, "排序")
    raise _invalid(field, "该项不能修改（原因代码创建后不能更改）", "field_not_editable")


def list_reasons(actor) -> list[CancelReason]:
    """Every reason, active and retired, in the pickers' order (admins)."""
    require_settings(actor)
    return list(db.session.scalars(select(CancelReason).order_by(
        CancelReason.active.desc(), CancelReason.actor, CancelReason.sort_order,
        CancelReason.id)))


def get_reason(actor, reason_id: int) -> CancelReason:
    require_settings(actor)
    return _reason(reason_id)


def _reason(reason_id: int, *, lock: bool = False) -> CancelReason:
    reason = db.session.get(CancelReason, reason_id, with_for_update=lock)
    if reason is None:
        raise ReasonNotFound()
    return reason


def create_reason(actor, /, *, code: str, ip: str | None = None, **values) -> CancelReason:
    """Add a reason: its code (lower snake_case ASCII, unique) never changes afterwards."""
    require_settings(actor)
    code = code.strip() if isinstance(code, str) else ""
    errors = []
    if not code:
        errors.append(_invalid("code", "请填写原因代码", "field_required"))
    elif len(code) > CODE_MAX or not CODE_RE.fullmatch(code):
        errors.append(_invalid("code", f"原因代码只能由小写英文字母、数字和下划线组成，以字母"
                                       f"开头，最多{CODE_MAX}个字符（如 time_conflict）",
                               "code_invalid"))
    values.setdefault("requires_note", False)
    values.setdefault("note_max_length", 200)
    values.setdefault("sort_order", 0)
    for required in ("label", "category", "actor"):
        values.setdefault(required, None)
    clean, field_errors = _collect(values)
    errors += field_errors
    if errors:
        raise all_errors(errors)
    if db.session.scalar(select(CancelReason.id).where(CancelReason.code == code)):
        raise Conflict("该原因代码已存在，请换一个", code="reason_code_taken",
                       details={"field": "code"})
    reason = CancelReason(code=code, active=True, **clean)
    db.session.add(reason)
    try:
        db.session.flush()
    except IntegrityError:  # the same code added at the same moment elsewhere
        db.session.rollback()
        raise Conflict("该原因代码已存在，请换一个", code="reason_code_taken",
                       details={"field": "code"}) from None
    audit.record(actor_type="hr", actor_id=actor.id, action="settings.reason_created",
                 object_type="cancel_reason", object_id=reason.id, ip=ip,
                 data={"before": None, "after": _snapshot(reason)})
    db.session.commit()
    return reason


def update_reason(actor, reason_id: int, /, *, ip: str | None = None, **values) -> CancelReason:
    """Edit a reason's label, category, side, note rules or order (never its code); old
    cancellations show the new label."""
    require_settings(actor)
    clean = clean_fields(values)
    reason = _reason(reason_id, lock=True)
    before = _snapshot(reason)
    if reason.code in SYSTEM_CODES and clean.get("actor", reason.actor) != reason.actor:
        db.session.rollback()
        raise _invalid("actor", "系统自动取消使用的原因只能属于公司方", "system_reason")
    for field, value in clean.items():
        setattr(reason, field, value)
    after = _snapshot(reason)
    if after == before:
        db.session.rollback()
        return _reason(reason_id)
    changed = [k for k in after if after[k] != before[k]]
    audit.record(actor_type="hr", actor_id=actor.id, action="settings.reason_updated",
                 object_type="cancel_reason", object_id=reason.id, ip=ip,
                 data={"code": reason.code, "before": {k: before[k] for k in changed},
                       "after": {k: after[k] for k in changed}})
    db.session.commit()
    return reason


def set_reason_active(actor, reason_id: int, active: bool, *, ip: str | None = None
                      ) -> CancelReason:
    """Retire a reason (no longer offered, still shown on old records) or reactivate it.
    The reason the system's jobs give cannot be retired."""
    require_settings(actor)
    reason = _reason(reason_id, lock=True)
    if reason.active == active:
        db.session.rollback()
        return reason
    if not active and reason.code in SYSTEM_CODES:
        db.session.rollback()
        raise Conflict("该原因由系统自动取消使用，不能停用", code="system_reason")
    reason.active = active
    audit.record(actor_type="hr", actor_id=actor.id,
                 action="settings.reason_reactivated" if active else "settings.reason_retired",
                 object_type="cancel_reason", object_id=reason.id, ip=ip,
                 data={"code": reason.code, "before": {"active": not active},
                       "after": {"active": active}})
    db.session.commit()
    return reason
