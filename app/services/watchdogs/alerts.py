"""Alert rows: opened once per condition, cleared when it is gone, acknowledged by HR.

Traps:
- once means the unique `open_key` (app.models.alerts): opening is an INSERT that skips
  a conflicting open alert, so two workers running the watchdog at once open one row and
  send one message; the messages' outbox dedupe key is the alert's id.
- a condition that cleared and comes back is a new alert (a new row, a new message).
- clearing only touches alerts of the kinds the caller checked (each check owns its kind).
- acknowledging hides the banner; the alert stays open until its condition is gone, so
  it is not raised again meanwhile.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update

from app.core import sqlwrite
from app.core.errors import Forbidden, NotFound
from app.core.timeutil import iso
from app.extensions import db
from app.models import Alert, HrUser, Role
from app.models.alerts import ALERT_KINDS
from app.services import audit
from app.services.notifications import outbox
from app.services.users.actor import Actor

ALERT_MESSAGE_KIND = "staff_watchdog_alert"
# Who may see and acknowledge a department's alerts (interviewers only read interviews).
HANDLING_ROLES = (Role.RECRUITING_MANAGER, Role.RECRUITING_SPECIALIST)


@dataclass(frozen=True)
class Condition:
    """Something true now that HR must be told about (once)."""
    kind: str
    key: str                          # dedupe key: kind + what it is about
    subject: str                      # what it is about (interview number, endpoint...)
    detail: str                       # why, in Chinese
    recipients: tuple[int, ...]       # HR user ids told by message
    department: str | None = None     # None: admins' alert
    interview_id: int | None = None
    data: dict = field(default_factory=dict)
    # recipients who already had a message about this very fact (the dispatcher's
    # staff_notification_failed): the banner, but no second message
    already_told: tuple[int, ...] = ()


@dataclass
class Reconciled:
    opened: list[int] = field(default_factory=list)
    cleared: int = 0

    @property
    def changed(self) -> int:
        return len(self.opened) + self.cleared


def admins() -> list[int]:
    return list(db.session.scalars(select(HrUser.id).where(
        HrUser.role == Role.ADMIN, HrUser.active.is_(True)).order_by(HrUser.id)))


def department_handlers(department: str | None) -> list[int]:
    """Active recruiting managers and specialists of the department."""
    if department is None:
        return []
    from app.models import HrUserDepartment

    return list(db.session.scalars(
        select(HrUser.id).join(HrUserDepartment, HrUserDepartment.user_id == HrUser.id)
        .where(HrUserDepartment.department == department, HrUser.active.is_(True),
               HrUser.role.in_(HANDLING_ROLES)).order_by(HrUser.id)))


def responsible(owner_ids, department: str | None) -> tuple[int, ...]:
    """The owners given (active ones), else the department's handlers, else admins."""
    owners = [i for i in dict.fromkeys(owner_ids) if i is not None]
    if owners:
        owners = list(db.session.scalars(select(HrUser.id).where(
            HrUser.id.in_(owners), HrUser.active.is_(True)).order_by(HrUser.id)))
    return tuple(owners or department_handlers(department) or admins())


def reconcile(kinds: tuple[str, ...], conditions: list[Condition], now: datetime
              ) -> Reconciled:
    """Make the open alerts of `kinds` match `conditions` (the caller commits): open the
    new ones (and message their recipients), refresh the ones still true, clear the rest."""
    result = Reconciled()
    keys = [c.key for c in conditions]
    connection = db.session.connection()
    if conditions:
        rows = [dict(kind=c.kind, dedupe_key=c.key, open_key=c.key, department=c.department,
                     interview_id=c.interview_id, subject=c.subject[:100],
                     detail=c.detail[:300], data=c.data, recipients=list(c.recipients),
                     opened_at=now, last_seen_at=now) for c in conditions]
        new = sqlwrite.insert_set(connection, Alert.__table__, rows, conflict=("open_key",),
                                  returning=("id", "open_key"))
        by_key = {c.key: c for c in conditions}
        for alert_id, key in sorted(new):
            _announce(alert_id, by_key[key], now)
            result.opened.append(alert_id)
        db.session.execute(update(Alert).where(Alert.open_key.in_(keys))
                           .values(last_seen_at=now).execution_options(
                               synchronize_session=False))
    gone = select(Alert.id).where(Alert.kind.in_(kinds), Alert.cleared_at.is_(None))
    if keys:
        gone = gone.where(Alert.open_key.not_in(keys))
    gone_ids = list(db.session.scalars(gone))
    if gone_ids:
        # RETURNING: a worker clearing at the same moment audits only what it cleared
        gone_ids = sorted(db.session.scalars(
            update(Alert).where(Alert.id.in_(gone_ids), Alert.cleared_at.is_(None))
            .values(cleared_at=now, open_key=None).returning(Alert.id)
            .execution_options(synchronize_session=False)))
        for alert_id in gone_ids:
            audit.record(actor_type="system", actor_id=None, action="alert.cleared",
                         object_type="alert", object_id=alert_id, data={"rule": "watchdog"})
        result.cleared = len(gone_ids)
    return result


def _announce(alert_id: int, condition: Condition, now: datetime) -> None:
    """One OA message per recipient (2023 template rules: typed keyword fields only) and
    the audit entry of the opening."""
    context = {"alert_title": ALERT_KINDS[condition.kind], "subject": condition.subject,
               "detail": condition.detail, "opened_at": iso(now),
               "department": condition.department or ""}
    for user_id in condition.recipients:
        if user_id in condition.already_told:
            continue
        outbox.enqueue(event=f"alert:{alert_id}", kind=ALERT_MESSAGE_KIND,
                       recipient_type="hr_user", recipient_id=user_id, interview=None,
                       context=context)
    audit.record(actor_type="system", actor_id=None, action="alert.opened",
                 object_type="alert", object_id=alert_id,
                 data={"rule": "watchdog", "kind": condition.kind,
                       "notified": [f"hr_user:{i}" for i in condition.recipients]})


# --- the console's side -----------------------------------------------------------------

def open_alerts(actor: Actor, *, include_acknowledged: bool = False, limit: int = 20
                ) -> list[Alert]:
    """Open alerts the user sees, newest first (the banner: unacknowledged only)."""
    if not actor.is_hr or not actor.permissions:
        return []
    stmt = select(Alert).where(Alert.cleared_at.is_(None))
    if not include_acknowledged:
        stmt = stmt.where(Alert.acknowledged_at.is_(None))
    # Visibility is checked in Python (recipients is a JSON list; containment is not
    # portable): open alerts are few, they clear by themselves.
    rows = db.session.scalars(stmt.order_by(Alert.opened_at.desc(), Alert.id.desc())
                              .limit(500)).all()
    return [a for a in rows if sees(actor, a)][:limit]


def sees(actor: Actor, alert: Alert) -> bool:
    if not actor.is_hr or not actor.permissions:
        return False
    if actor.role == Role.ADMIN:
        return True
    if actor.id in (alert.recipients or []):
        return True
    return (actor.role in HANDLING_ROLES and alert.department is not None
            and actor.departments is not None and alert.department in actor.departments)


def acknowledge(actor: Actor, alert_id: int, now: datetime) -> Alert:
    """HR dismisses an alert's banner (audited); the alert stays open until it clears."""
    alert = db.session.get(Alert, alert_id, with_for_update=True)
    if alert is None or not sees(actor, alert):
        raise NotFound("未找到该提醒", code="alert_not_found")
    if not actor.can("view"):
        raise Forbidden("没有权限处理提醒", code="alert_forbidden")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
        alert.acknowledged_by = actor.id
        audit.record(actor_type="hr", actor_id=actor.id, action="alert.acknowledged",
                     object_type="alert", object_id=alert.id,
                     data={"kind": alert.kind}, ip=actor.ip)
    db.session.commit()
    return alert
