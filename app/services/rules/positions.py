"""Rules set per position: whether candidates' cancels need HR review, and the hours after
the invitation an unconfirmed interview is auto-cancelled (instead of the company rule)."""
from __future__ import annotations

from sqlalchemy import select

from app.core.errors import NotFound, ValidationFailed
from app.extensions import db
from app.models import Position
from app.services import audit
from app.services.rules.store import LIMITS, all_errors, clean_value, require_settings


class PositionNotFound(NotFound):
    code = "position_not_found"
    message = "未找到该岗位"


def _snapshot(position: Position) -> dict:
    return {"cancel_requires_review": position.cancel_requires_review,
            "auto_cancel_unconfirmed_hours": position.auto_cancel_unconfirmed_hours}


def list_positions(actor) -> list[Position]:
    """Every position with its own rules, by department and title (admins)."""
    require_settings(actor)
    return list(db.session.scalars(select(Position).order_by(
        Position.active.desc(), Position.department, Position.title, Position.id)))


def position_levels(actor) -> list[str]:
    """The levels positions carry (what second_approval_levels may list)."""
    require_settings(actor)
    return sorted(set(db.session.scalars(select(Position.level).distinct())) - {None, ""})


def update_position_rules(actor, position_id: int, *, cancel_requires_review: bool,
                          auto_cancel_unconfirmed_hours: int | None, ip: str | None = None
                          ) -> Position:
    """An admin sets a position's review flag and its auto-cancel hours (None: the
    company rule); audited with the values before and after."""
    require_settings(actor)
    errors = []
    if auto_cancel_unconfirmed_hours is not None:
        try:
            clean_value("auto_cancel_unconfirmed_hours", auto_cancel_unconfirmed_hours)
        except ValidationFailed as exc:
            exc.details["field"] = "auto_cancel_unconfirmed_hours"
            errors.append(exc)
    if errors:
        raise all_errors(errors)
    position = db.session.get(Position, position_id, with_for_update=True)
    if position is None:
        raise PositionNotFound()
    before = _snapshot(position)
    position.cancel_requires_review = bool(cancel_requires_review)
    position.auto_cancel_unconfirmed_hours = auto_cancel_unconfirmed_hours
    after = _snapshot(position)
    if after == before:
        db.session.rollback()
        return db.session.get(Position, position_id)
    changed = [k for k in after if after[k] != before[k]]
    audit.record(actor_type="hr", actor_id=actor.id, action="settings.position_rules_changed",
                 object_type="position", object_id=position.id, ip=ip,
                 data={"title": position.title, "before": {k: before[k] for k in changed},
                       "after": {k: after[k] for k in changed}})
    db.session.commit()
    return position


AUTO_CANCEL_LIMITS = LIMITS["auto_cancel_unconfirmed_hours"]
