"""Rescheduling by the candidate: pick an open slot within the window of working days."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import Conflict, ValidationFailed
from app.core.timeutil import SHANGHAI, cn_datetime, iso, local, utcnow
from app.extensions import db
from app.models import Interview, InterviewSession, InvalidTransition
from app.models.interview import ACTIVE_STATUSES
from app.queries.interviews.candidate import load_candidate_interview
from app.services import audit, webhooks
from app.services.interviews.recipients import recipients
from app.services.notifications import outbox
from app.services.rules import get_rules
from app.services.rules.calendar import WorkdayCalendar


class NotReschedulable(Conflict):
    code = "not_reschedulable"
    message = "该面试当前状态不能改期"


class RescheduleDeadlinePassed(Conflict):
    code = "reschedule_deadline_passed"
    message = "已超过可自助改期的时间，请联系招聘HR处理"


class InterviewChanged(Conflict):
    code = "interview_changed"
    message = "面试信息已变更，请刷新后重试"


class SlotInvalid(ValidationFailed):
    code = "slot_invalid"
    message = "请选择可预约的时段"


class SlotFull(Conflict):
    code = "slot_full"
    message = "该时段已约满，请选择其他时段"


@dataclass(frozen=True)
class SlotWindow:
    earliest: datetime      # slots must start after this (UTC)
    end_day: date           # last local day of the window, inclusive
    workdays: frozenset[date]

    def contains(self, session: InterviewSession) -> bool:
        day = local(session.starts_at).date()
        return (session.starts_at > self.earliest and day <= self.end_day
                and day in self.workdays)


@dataclass
class RescheduleOutcome:
    interview_id: int
    previous_scheduled_at: datetime
    scheduled_at: datetime
    session_id: int


def slot_window(now: datetime) -> SlotWindow:
    """Slots start after now + the cancel deadline (so they stay changeable) and lie on
    working days up to the N-th working day after today (Asia/Shanghai)."""
    rules = get_rules()
    today = local(now).date()
    calendar = WorkdayCalendar()
    end_day = calendar.add_working_days(today, rules.reschedule_window_working_days)
    calendar.load(today, end_day)
    days = frozenset(today + timedelta(days=k) for k in range((end_day - today).days + 1)
                     if calendar.is_workday(today + timedelta(days=k)))
    return SlotWindow(earliest=now + timedelta(hours=rules.cancel_deadline_hours),
                      end_day=end_day, workdays=days)


def _check_reschedulable(interview: Interview, now: datetime) -> None:
    if interview.status not in ACTIVE_STATUSES:
        raise NotReschedulable(details={"status": interview.status.value})
    hours = get_rules().cancel_deadline_hours
    deadline = interview.cancel_deadline(hours)
    if now >= deadline:
        raise RescheduleDeadlinePassed(
            f"已超过可自助改期的时间（面试开始前{hours}小时），请联系招聘HR处理",
            details={"reschedule_deadline": iso(deadline)})


def _open_slots(interview: Interview, window: SlotWindow) -> list[InterviewSession]:
    upper = datetime.combine(window.end_day + timedelta(days=1), time(0), SHANGHAI)
    stmt = (select(InterviewSession)
            .where(or_(InterviewSession.position_id == interview.position_id,
                       InterviewSession.position_id.is_(None)),
                   InterviewSession.starts_at > window.earliest,
                   InterviewSession.starts_at < upper,
                   InterviewSession.booked < InterviewSession.capacity)
            .order_by(InterviewSession.starts_at, InterviewSession.id))
    if interview.session_id is not None:
        stmt = stmt.where(InterviewSession.id != interview.session_id)
    return [s for s in db.session.scalars(stmt) if window.contains(s)]


def reschedule_slots(candidate_id: int, interview_public_id: str,
                     now: datetime | None = None) -> tuple[list[InterviewSession], date]:
    """Open slots the candidate may move this interview to, and the window's last day."""
    now = now or utcnow()
    interview = load_candidate_interview(candidate_id, interview_public_id)
    _check_reschedulable(interview, now)
    window = slot_window(now)
    return _open_slots(interview, window), window.end_day


def _slot_for(interview: Interview, slot_id, window: SlotWindow) -> InterviewSession:
    """The requested slot if it is one the candidate could have been offered (room aside:
    the conditional UPDATE decides that)."""
    invalid = SlotInvalid(details={"field": "slot_id"})
    try:
        sid = int(slot_id)
    except (TypeError, ValueError):
        raise invalid from None
    if not 0 < sid < 2**63:  # beyond any id the database can hold
        raise invalid
    slot = db.session.get(InterviewSession, sid)
    if (slot is None or sid == interview.session_id
            or slot.position_id not in (None, interview.position_id)
            or not window.contains(slot)):
        raise invalid
    return slot


def _take_place(session_id: int) -> bool:
    result = db.session.execute(
        update(InterviewSession)
        .where(InterviewSession.id == session_id,
               InterviewSession.booked < InterviewSession.capacity)
        .values(booked=InterviewSession.booked + 1)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _release_place(session_id: int) -> None:
    db.session.execute(
        update(InterviewSession)
        .where(InterviewSession.id == session_id, InterviewSession.booked > 0)
        .values(booked=InterviewSession.booked - 1)
        .execution_options(synchronize_session=False))


def reschedule_by_candidate(candidate_id: int, interview_public_id: str, slot_id,
                            now: datetime | None = None, *,
                            ip: str | None = None) -> RescheduleOutcome:
    """A candidate moves their interview to an open slot within the window, until the
    self-service deadline; a slot never goes over its capacity."""
    now = now or utcnow()
    try:
        outcome = _reschedule(candidate_id, interview_public_id, slot_id, now, ip)
        db.session.commit()
    except StaleDataError:
        # A concurrent change won the optimistic lock: report the state it left.
        db.session.rollback()
        interview = load_candidate_interview(candidate_id, interview_public_id)
        if interview.status not in ACTIVE_STATUSES:
            raise NotReschedulable(details={"status": interview.status.value}) from None
        raise InterviewChanged() from None
    except Exception:
        db.session.rollback()
        raise
    outbox.wake_dispatcher()
    return outcome


def _reschedule(candidate_id, public_id, slot_id, now, ip=None) -> RescheduleOutcome:
    interview = load_candidate_interview(candidate_id, public_id, lock=True)
    _check_reschedulable(interview, now)
    slot = _slot_for(interview, slot_id, slot_window(now))
    old_session_id = interview.session_id
    previous_at = interview.scheduled_at

    # Row locks on sessions are taken in id order, so two candidates swapping slots
    # cannot deadlock.
    if old_session_id is not None and old_session_id < slot.id:
        _release_place(old_session_id)
    if not _take_place(slot.id):
        raise SlotFull(details={"field": "slot_id"})
    if old_session_id is not None and old_session_id > slot.id:
        _release_place(old_session_id)
    # Counts changed in SQL: never let stale ORM values be read or written back.
    for session_id in (old_session_id, slot.id):
        cached = db.session.get(InterviewSession, session_id) if session_id else None
        if cached is not None:
            db.session.expire(cached, ["booked"])

    try:
        interview.reschedule(slot, now)
    except InvalidTransition:
        raise NotReschedulable(details={"status": interview.status.value}) from None
    db.session.flush()  # version check: a concurrent winner -> StaleDataError

    audit.record(actor_type="candidate", actor_id=candidate_id, action="interview.rescheduled",
                 object_type="interview", object_id=interview.id,
                 data={"number": interview.number,
                       "from": {"session_id": old_session_id, "scheduled_at": iso(previous_at)},
                       "to": {"session_id": slot.id, "scheduled_at": iso(slot.starts_at)},
                       # shown as is in the candidate's timeline and the console
                       "from_text": cn_datetime(previous_at),
                       "to_text": cn_datetime(slot.starts_at)}, ip=ip)
    _enqueue_notifications(interview, previous_at)
    event_id = f"interview.rescheduled:{interview.id}:{interview.version}"
    payload = webhooks.interview_payload(interview, actor_type="candidate",
                                         actor_id=candidate_id, at=now)
    payload["previous_scheduled_at"] = iso(previous_at)
    webhooks.enqueue_event("interview.rescheduled", event_id, payload)
    return RescheduleOutcome(interview.id, previous_at, interview.scheduled_at, slot.id)


def _enqueue_notifications(interview: Interview, previous_at: datetime) -> None:
    """The candidate, the recruiting team and the interviewer learn the new time."""
    event = f"interview.rescheduled:{interview.id}:{interview.version}"
    context = {**outbox.interview_context(interview),
               "previous_scheduled_at": iso(previous_at)}
    # Staff see the original time next to "改期至 <new time>".
    staff_context = {**outbox.interview_context(
        interview, reason_label="改期至" + cn_datetime(interview.scheduled_at)),
        "scheduled_at": iso(previous_at), "previous_scheduled_at": iso(previous_at),
        "new_scheduled_at": iso(interview.scheduled_at)}
    for r in recipients("rescheduled", interview, interview.candidate_id):
        outbox.enqueue(event=event, kind=r.kind, recipient_type=r.recipient_type,
                       recipient_id=r.recipient_id, interview=interview,
                       context=context if r.recipient_type == "candidate" else staff_context)
