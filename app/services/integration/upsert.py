"""Upserts by external id: the one way positions, sessions, candidates and interviews get
in from outside (file imports and /api/integration/v1 both call these).

Each `upsert_<kind>(data, *, actor)` validates every field (all errors of the object at
once: ValidationFailed with code/message of the first, details {"field": first field,
"errors": [{"field", "code", "message"}, ...]}), checks permission and department scope
through the Actor, creates or updates the row found by its external id, flushes and does
NOT commit (imports run many rows in one transaction). `save_<kind>` is the same plus the
commit, for the API. Each returns an UpsertResult: .obj, .created, .changed (bool),
.fields (the names that changed) and, for a new candidate, .invite (an Invitation: link
and QR scene; the token is shown once).

Who: permission WRITE_PERMISSION ("batch_cancel": admins and recruiting managers; API
keys with interviews:write; system jobs), within the departments the actor sees
(Actor.sees). Changing a row checks the department before and after.

Fields (strings are trimmed; "" counts as absent):
- position: external_id*, title* (<=100), department* (<=100), level* (<=32),
  is_senior?, cancel_requires_review? (true/false, 是/否, 1/0, yes/no; default false).
- session: external_id*, position_external_id* (an existing position), starts_at*,
  ends_at* (after starts_at), capacity* (1..10000, not below the places booked).
- candidate: external_id*, name* (<=64), phone* (mainland mobile, 11 digits starting 1[3-9],
  +86 allowed; stored encrypted by the model), email? (<=254).
- interview: external_id*, candidate_external_id*, position_external_id*,
  session_external_id? (a session of that position; it must have room, and scheduled_at
  falls inside it), scheduled_at* (a new interview: in the future),
  duration_minutes? (5..480, default 30), interviewer_username? (an active HR user),
  join_url? (http/https, <=500), confirm_by? (not after scheduled_at), number? (<=32,
  unique; generated AI-YYYY-MM-DD-NNN by the Beijing day of scheduled_at when absent).
- external ids: 1..64 characters, no whitespace.
Times: ISO 8601 with an offset, or Beijing local time without one ("2026-12-03 14:00",
"2026-12-03T14:00:00", "2026/12/03 14:00"); datetime objects (XLSX cells) likewise.
An interview that is cancelled, completed or waiting for a cancel approval is never
changed (Conflict interview_closed); the same values again are no change at all. A new
time for an interview is told to the candidate and the team (the rescheduled messages).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from app.core import crypto
from app.core.errors import Conflict, Forbidden
from app.core.timeutil import iso, local, utcnow
from app.extensions import db
from app.models import Candidate, HrUser, Interview, InterviewSession, InterviewStatus, Position
from app.services import audit
from app.services.candidates.invitations import Invitation, issue_invitation
from app.services.integration.fields import (  # the field checks, re-exported
    CLEANERS,
    UpsertInvalid,
    _Errors,
    _not_found,
    clean_candidate,
    clean_interview,
    clean_position,
    clean_session,
    parse_time,
)
from app.services.rules.confirmation import confirm_by_for
from app.services.users.actor import Actor

WRITE_PERMISSION = "batch_cancel"
KINDS = ("position", "session", "candidate", "interview")


class OutOfScope(Forbidden):
    code = "department_out_of_scope"
    message = "没有该部门的数据权限"


class InterviewClosed(Conflict):
    code = "interview_closed"
    message = "面试已取消、已完成或正在审批取消，不能再修改"


class SessionFull(Conflict):
    code = "session_full"
    message = "该场次已满，请选择其他场次"


@dataclass
class UpsertResult:
    obj: Any
    created: bool
    fields: tuple[str, ...] = ()
    invite: Invitation | None = None

    @property
    def changed(self) -> bool:
        return self.created or bool(self.fields)


# --- scope --------------------------------------------------------------------------------

def _authorize(actor: Actor) -> None:
    if not actor.can(WRITE_PERMISSION):
        raise Forbidden()


def _check_department(actor: Actor, department: str) -> None:
    """The actor may write data of this department (Actor.sees: HR users and API keys by
    their departments)."""
    if not actor.sees(department, None):
        raise OutOfScope(details={"field": "department"})


def _by_external(model, column, value):
    return db.session.scalars(select(model).where(column == value)).first()


def _apply(row, values: dict) -> tuple[tuple[str, ...], dict, dict]:
    """Set the values that differ; return (names, before, after) of those that changed."""
    names, before, after = [], {}, {}
    for name, value in values.items():
        old = getattr(row, name)
        if old != value:
            names.append(name)
            before[name] = _plain(old)
            after[name] = _plain(value)
            setattr(row, name, value)
    return tuple(names), before, after


def _plain(value):
    return iso(value) if isinstance(value, datetime) else value


def _audit(actor: Actor, kind: str, row, result: UpsertResult, before: dict, after: dict,
           source: str) -> None:
    if not result.changed:
        return
    action = f"{kind}.{'created' if result.created else 'updated'}"
    audit.record(actor_type=actor.type, actor_id=actor.id, action=action, object_type=kind,
                 object_id=row.id, ip=actor.ip,
                 data={"source": source, "external_id": row_external(row),
                       "before": None if result.created else before, "after": after})


def row_external(row) -> str | None:
    return getattr(row, "external_ref", None) or getattr(row, "external_id", None)


# --- upserts ------------------------------------------------------------------------------

def upsert_position(data: dict, *, actor: Actor, source: str = "api") -> UpsertResult:
    """Create or update a position by external id, within the actor's departments."""
    values = clean_position(data)
    _authorize(actor)
    _check_department(actor, values["department"])
    row = _by_external(Position, Position.external_id, values["external_id"])
    wanted = {k: values[k] for k in ("title", "department", "level")}
    for flag in ("is_senior", "cancel_requires_review"):
        if values[flag] is not None or row is None:
            wanted[flag] = bool(values[flag])
    created = row is None
    if created:
        row = Position(external_id=values["external_id"], active=True)
        db.session.add(row)
    else:
        _check_department(actor, row.department)
    names, before, after = _apply(row, wanted)
    db.session.flush()
    result = UpsertResult(row, created, () if created else names)
    _audit(actor, "position", row, result, before, after, source)
    return result


def upsert_session(data: dict, *, actor: Actor, source: str = "api") -> UpsertResult:
    """Create or update an interview session of a position the actor may write."""
    values = clean_session(data)
    _authorize(actor)
    position = _position(values["position_external_id"])
    _check_department(actor, position.department)
    row = _by_external(InterviewSession, InterviewSession.external_id, values["external_id"])
    created = row is None
    if created:
        row = InterviewSession(external_id=values["external_id"], booked=0)
        db.session.add(row)
    else:
        if row.position is not None:
            _check_department(actor, row.position.department)
        if values["capacity"] < row.booked:
            raise UpsertInvalid(f"容量不能小于已预约人数（{row.booked}）",
                                code="capacity_below_booked",
                                details={"field": "capacity", "errors": [{
                                    "field": "capacity", "code": "capacity_below_booked",
                                    "message": f"容量不能小于已预约人数（{row.booked}）"}]})
    names, before, after = _apply(row, {"position_id": position.id,
                                        "starts_at": values["starts_at"],
                                        "ends_at": values["ends_at"],
                                        "capacity": values["capacity"]})
    db.session.flush()
    result = UpsertResult(row, created, () if created else names)
    _audit(actor, "session", row, result, before, after, source)
    return result


def upsert_candidate(data: dict, *, actor: Actor, source: str = "api") -> UpsertResult:
    """Create or update a candidate by external id; a new candidate gets an invitation.
    An existing candidate can be changed only by someone who sees one of their interviews
    (or when they have none yet)."""
    values = clean_candidate(data)
    _authorize(actor)
    row = _by_external(Candidate, Candidate.external_ref, values["external_id"])
    created = row is None
    if created:
        row = Candidate(external_ref=values["external_id"], name=values["name"],
                        email=values["email"])
        row.phone = values["phone"]
        db.session.add(row)
        db.session.flush()
        result = UpsertResult(row, True, (), issue_invitation(row.id))
        _audit(actor, "candidate", row, result, {}, {
            "name": row.name, "phone": crypto.mask_phone(values["phone"]),
            "email": row.email}, source)
        return result
    _check_candidate_scope(actor, row.id)
    names, before, after = _apply(row, {"name": values["name"], "email": values["email"]})
    if row.phone_hash != crypto.phone_lookup_hash(values["phone"]):
        before["phone"] = crypto.mask_phone(row.phone)
        after["phone"] = crypto.mask_phone(values["phone"])
        row.phone = values["phone"]
        names += ("phone",)
    db.session.flush()
    result = UpsertResult(row, False, names)
    _audit(actor, "candidate", row, result, before, after, source)
    return result


def upsert_interview(data: dict, *, actor: Actor, source: str = "api") -> UpsertResult:
    """Create or update an interview by external id. A closed interview (cancelled,
    completed, cancel pending) is never changed; a session keeps its booked count."""
    values = clean_interview(data)
    _authorize(actor)
    # Every reference is looked up before any error is raised: all of them are reported.
    e = _Errors()
    candidate = _by_external(Candidate, Candidate.external_ref, values["candidate_external_id"])
    if candidate is None:
        e.add("candidate_external_id", "candidate_external_id_not_found",
              "未找到该候选人编号，请先导入候选人")
    position = _by_external(Position, Position.external_id, values["position_external_id"])
    if position is None:
        e.add("position_external_id", "position_external_id_not_found", POSITION_NOT_FOUND)
    session = None
    if values["session_external_id"]:
        session = _by_external(InterviewSession, InterviewSession.external_id,
                               values["session_external_id"])
        if session is None:
            e.add("session_external_id", "session_external_id_not_found",
                  "未找到该场次编号，请先导入场次")
        elif position is not None and session.position_id not in (None, position.id):
            e.add("session_external_id", "session_position_mismatch", "该场次不属于所填岗位")
        elif not session.starts_at <= values["scheduled_at"] < session.ends_at:
            e.add("scheduled_at", "scheduled_at_outside_session",
                  "面试时间不在该场次的时间范围内")
    interviewer_id = None
    if values["interviewer_username"]:
        interviewer_id = db.session.scalars(select(HrUser.id).where(
            HrUser.username == values["interviewer_username"], HrUser.active)).first()
        if interviewer_id is None:
            e.add("interviewer_username", "interviewer_username_not_found",
                  "未找到该面试官账号（或账号已停用）")
    row = _by_external(Interview, Interview.external_id, values["external_id"])
    created = row is None
    if values["number"]:
        taken = db.session.scalars(select(Interview.id).where(
            Interview.number == values["number"])).first()
        if taken is not None and (created or taken != row.id):
            e.add("number", "number_taken", "该面试编号已被其他面试使用")
    if created and values["scheduled_at"] <= utcnow():
        e.add("scheduled_at", "scheduled_at_past", "面试时间已过，不能新增过去的面试")
    if position is not None:
        _check_department(actor, position.department)
    e.raise_any()
    wanted = {"candidate_id": candidate.id, "position_id": position.id,
              "session_id": session.id if session else None,
              "scheduled_at": values["scheduled_at"],
              "duration_minutes": values["duration_minutes"] or 30,
              "interviewer_id": interviewer_id, "join_url": values["join_url"],
              "confirm_by": values["confirm_by"]}
    if created:
        row = Interview(external_id=values["external_id"], status=InterviewStatus.SCHEDULED,
                        number=values["number"] or next_number(values["scheduled_at"]))
        if wanted["confirm_by"] is None:  # the deadline the invitation gives (rules)
            wanted["confirm_by"] = confirm_by_for(values["scheduled_at"], utcnow())
        if session is not None:
            _book(session)
        db.session.add(row)
    else:
        _check_department(actor, row.position.department)
        if values["duration_minutes"] is None:
            wanted["duration_minutes"] = row.duration_minutes
        if values["confirm_by"] is None:
            wanted["confirm_by"] = row.confirm_by
        if values["number"]:
            wanted["number"] = values["number"]
        differs = any(getattr(row, k) != v for k, v in wanted.items())
        if differs and row.status not in (InterviewStatus.SCHEDULED, InterviewStatus.CONFIRMED):
            raise InterviewClosed(details={"field": "external_id", "status": row.status.value})
        if differs and wanted["session_id"] != row.session_id:
            if session is not None:
                _book(session)
            if row.session is not None:
                row.session.booked = max(0, row.session.booked - 1)
        if row.status == InterviewStatus.CONFIRMED and row.scheduled_at != wanted["scheduled_at"]:
            # The confirmation was for the old time (as Interview.reschedule does).
            row.status = InterviewStatus.SCHEDULED
            row.confirmed_at = None
    previous_at = None if created else row.scheduled_at
    names, before, after = _apply(row, wanted)
    db.session.flush()
    result = UpsertResult(row, created, () if created else names)
    if created:
        after["number"] = row.number
    _audit(actor, "interview", row, result, before, after, source)
    if "scheduled_at" in result.fields:
        # The candidate and the team learn the new time, as when the candidate moves it.
        from app.services.interviews.reschedule import _enqueue_notifications

        _enqueue_notifications(row, previous_at)
    return result


POSITION_NOT_FOUND = "未找到该岗位编号，请先导入岗位"


def _position(external_id: str) -> Position:
    position = _by_external(Position, Position.external_id, external_id)
    if position is None:
        raise _not_found("position_external_id", POSITION_NOT_FOUND)
    return position


def _check_candidate_scope(actor: Actor, candidate_id: int) -> None:
    pairs = db.session.execute(select(Position.department, Interview.interviewer_id)
                               .join(Interview, Interview.position_id == Position.id)
                               .where(Interview.candidate_id == candidate_id)).all()
    if pairs and not any(actor.sees(dept, interviewer) for dept, interviewer in pairs):
        raise OutOfScope(details={"field": "external_id"})


def _book(session: InterviewSession) -> None:
    if session.booked >= session.capacity:
        raise SessionFull(details={"field": "session_external_id"})
    session.booked += 1


def next_number(scheduled_at: datetime) -> str:
    """AI-YYYY-MM-DD-NNN: the next free number of the Beijing day of the interview (the
    highest so far plus one). Within one transaction the last number given is remembered,
    so an import of thousands of interviews on one day does not scan them all each time."""
    day = local(scheduled_at).date()
    prefix = f"AI-{day:%Y-%m-%d}-"
    given = db.session.info.setdefault("interview_numbers", {})
    last = given.get(prefix)
    transaction = db.session().get_transaction()
    if last and transaction is not None and last[0] is transaction:
        number = last[1] + 1
    else:
        number = _highest(prefix) + 1
        transaction = db.session().get_transaction()  # begun by that query
    given[prefix] = (transaction, number)
    return f"{prefix}{number:03d}"


def _highest(prefix: str) -> int:
    # Longest first: "1000" sorts before "999".
    highest = db.session.scalars(select(Interview.number).where(
        Interview.number.like(prefix + "%")).order_by(
        func.length(Interview.number).desc(), Interview.number.desc()).limit(1)).first()
    suffix = highest[len(prefix):] if highest else "0"
    if suffix.isdigit():
        return int(suffix)
    numbers = db.session.scalars(select(Interview.number).where(  # hand-made numbers
        Interview.number.like(prefix + "%"))).all()
    return max((int(n[len(prefix):]) for n in numbers if n[len(prefix):].isdigit()),
               default=0)


UPSERTS = {"position": upsert_position, "session": upsert_session,
           "candidate": upsert_candidate, "interview": upsert_interview}


# --- committing wrappers (the API) --------------------------------------------------------

def _save(kind: str, data: dict, actor: Actor, source: str) -> UpsertResult:
    try:
        result = UPSERTS[kind](data, actor=actor, source=source)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result


def save_position(data: dict, *, actor: Actor, source: str = "api") -> UpsertResult:
    """upsert_position, committed."""
    return _save("position", data, actor, source)


def save_session(data: dict, *, actor: Actor, source: str = "api") -> UpsertResult:
    """upsert_session, committed."""
    return _save("session", data, actor, source)


def save_candidate(data: dict, *, actor: Actor, source: str = "api") -> UpsertResult:
    """upsert_candidate, committed (the invitation's token is in .invite, shown once)."""
    return _save("candidate", data, actor, source)


def save_interview(data: dict, *, actor: Actor, source: str = "api") -> UpsertResult:
    """upsert_interview, committed."""
    return _save("interview", data, actor, source)


__all__ = ["KINDS", "UPSERTS", "CLEANERS", "UpsertResult", "UpsertInvalid", "OutOfScope",
           "InterviewClosed", "SessionFull", "WRITE_PERMISSION", "upsert_position",
           "upsert_session", "upsert_candidate", "upsert_interview", "save_position",
           "save_session", "save_candidate", "save_interview", "parse_time", "next_number",
           "clean_position", "clean_session", "clean_candidate", "clean_interview"]
