"""Turning decisions into SQL. Decides nothing: every rule is in policy.py.

- `apply_one`: one decision. On PostgreSQL a single statement: the interview's UPDATE
  guarded by the version read, and, as CTEs that run only when the guard matched, the
  freed place, the cancellation, its approval levels, the audit entry, the outbox rows and
  the webhook deliveries. Elsewhere (SQLite) the guard, then the writes one by one in the
  caller's transaction. A guard that matched nothing raises LostRace and wrote nothing.
- `apply_chunk`: up to CHUNK decisions of a batch, set-based: one UPDATE of the
  interviews, one of the sessions' places per distinct count, and one multi-row INSERT
  per side-effect table, whatever the number of rows. The rows were locked when read.
  On PostgreSQL the cancellations' ids are taken first and the writes are pipelined
  (sqlwrite.pipelined): the server runs each while the next one's rows are built.
- `apply_approval`: a review step.

Side-effect rows come from their modules' row builders and writers (outbox, audit,
webhooks), the same ones every other path uses, deduplicating the same way.
"""
from __future__ import annotations

from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import bindparam, case, update

from app.core import sqlwrite
from app.core.timeutil import iso
from app.models import (
    Approval,
    ApprovalDecision,
    Cancellation,
    CancellationState,
    Interview,
    InterviewSession,
    InterviewStatus,
)
from app.services import audit, webhooks
from app.services.cancellation.facts import InterviewFacts
from app.services.cancellation.policy import ApprovalOutcome, CancelDecision
from app.services.notifications import outbox

CHUNK = 1000
INTERVIEWS = Interview.__table__
SESSIONS = InterviewSession.__table__
CANCELLATIONS = Cancellation.__table__
APPROVALS = Approval.__table__


class LostRace(Exception):
    """The interview changed between the read and the write: nothing was written."""


# --- message contexts and payloads (one per event, every path) ---------------------------

def message_context(interview: InterviewFacts, *, reason_label: str = "", note: str = "",
                    **extra) -> dict:
    return {**outbox.interview_context(interview, reason_label=reason_label, note=note),
            **extra}


def decision_context(decision: CancelDecision, hr_contact: str, reschedule_days: int) -> dict:
    context = outbox.interview_context(decision.after, reason_label=decision.reason.label,
                                       note=decision.note or "")
    context.update(_decision_extra(decision.actor.type, hr_contact, reschedule_days,
                                   decision.reschedule_by))
    return context


@lru_cache(maxsize=256)
def _decision_extra(actor_type, hr_contact: str, reschedule_days: int, reschedule_by) -> dict:
    """What a decision's message context adds, the same for every decision of a batch
    (cached: read only, merged into each context)."""
    extra = {"actor_type": actor_type.value, "hr_contact": hr_contact,
             "reschedule_days": reschedule_days}
    if reschedule_by is not None:
        extra["reschedule_by"] = iso(reschedule_by)
    return extra


def webhook_payload(decision: CancelDecision) -> dict:
    payload = webhooks.interview_payload(
        decision.after, reason=decision.reason, actor_type=decision.actor.type.value,
        actor_id=decision.actor.id, at=decision.now)
    if decision.actor.rule:
        payload["actor"]["rule"] = decision.actor.rule
    if decision.batch_id:
        payload["batch_id"] = decision.batch_id
    return payload


# A status -> its value: InterviewStatus(x).value without the enum machinery, twice per
# row of a batch (a str enum: its value finds the same entry).
_STATUS_VALUE = {m: m.value for m in InterviewStatus}


def audit_data(decision: CancelDecision, cancellation_id: int | None) -> dict:
    data = {"reason": decision.reason.code, "note": decision.note,
            "cancellation_id": cancellation_id, "number": decision.interview.number,
            "before": {"status": _STATUS_VALUE[decision.interview.status]},
            "after": {"status": _STATUS_VALUE[decision.after.status]}}
    if decision.actor.is_hr:
        data["notified"] = _notified(tuple((r.recipient_type, r.kind)
                                           for r in decision.recipients))
    if decision.reschedule_by is not None:
        data["reschedule_by"] = iso(decision.reschedule_by)
    if decision.batch_id:
        data["batch_id"] = decision.batch_id
    if decision.actor.rule:
        data["rule"] = decision.actor.rule
    if decision.actor.request_id:  # in the data: the chain's hash covers it
        data["request_id"] = decision.actor.request_id
    return data


@lru_cache(maxsize=64)
def _notified_sorted(kinds: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    return tuple(sorted({recipient_type + ":" + kind for recipient_type, kind in kinds}))


def _notified(kinds: tuple[tuple[str, str], ...]) -> list[str]:
    """Who was told, as "recipient_type:kind" sorted (a batch's rows share a few)."""
    return list(_notified_sorted(kinds))


# --- one decision ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Shape:
    """What varies between single cancel writes, apart from values."""
    needs_review: bool
    frees_place: bool
    approval_levels: int
    messages: int
    deliveries: int
    actor_type: str
    with_rule: bool
    with_reschedule: bool


@lru_cache(maxsize=128)
def _plan(dialect_name: str, shape: _Shape):
    """(guard, cancellation insert, other writes, combined): on PostgreSQL only
    `combined`, the whole unit as one statement."""
    values = dict(status=bindparam("new_status", type_=INTERVIEWS.c.status.type),
                  version=bindparam("new_version"), updated_at=bindparam("now"))
    if shape.needs_review:
        values["status_before_request"] = bindparam("old_status",
                                                    type_=INTERVIEWS.c.status.type)
    else:
        values["cancelled_at"] = bindparam("now")
    guard = (update(INTERVIEWS).where(INTERVIEWS.c.id == bindparam("iv_id"),
                                      INTERVIEWS.c.version == bindparam("old_version"))
             .values(**values).returning(INTERVIEWS.c.id, INTERVIEWS.c.updated_at))
    per_row = ["actor_id", "reason_id", "note", "state", "decided_at"]
    if dialect_name == "postgresql":
        per_row.insert(0, "id")
    if shape.with_rule:
        per_row.append("actor_rule")
    if shape.with_reschedule:
        per_row.append("reschedule_by")
    [cancellation] = sqlwrite.insert_rows(
        CANCELLATIONS, 1, "c", per_row,
        shared={"interview_id": "iv_id", "actor_type": sqlwrite.constant(shape.actor_type),
                "requested_at": "now", "created_at": "now", "updated_at": "now"})
    writes = []
    if shape.frees_place:
        # In SQL, not read-modify-write: a concurrent reschedule's booked + 1 survives.
        writes.append(sqlwrite.Write(
            SESSIONS,
            {"booked": case((SESSIONS.c.booked > 0, SESSIONS.c.booked - 1),
                            else_=sqlwrite.constant(0)),
             "updated_at": bindparam("now", type_=SESSIONS.c.updated_at.type)},
            where=SESSIONS.c.id == bindparam("place_session_id")))
    writes += sqlwrite.insert_rows(
        APPROVALS, shape.approval_levels, "a", ("level",),
        shared={"cancellation_id": "cancellation_id",
                "decision": sqlwrite.constant(ApprovalDecision.PENDING),
                "created_at": "now", "updated_at": "now"})
    writes.append(audit.insert_row())
    writes += outbox.fanout_rows(shape.messages)
    writes += webhooks.delivery_rows(shape.deliveries)
    if dialect_name == "postgresql":
        return None, None, None, sqlwrite.guarded_unit(
            guard, [cancellation, *writes], from_guard={"iv_id": "id", "now": "updated_at"})
    return (guard, cancellation.statement(dialect_name),
            [w.statement(dialect_name) for w in writes], None)


_PREPARED: dict = {}


def prepared(dialect, key, build) -> sqlwrite.Prepared:
    """PostgreSQL: the statement `build(dialect name)` for `key`, compiled once."""
    found = _PREPARED.get(key)
    if found is None:
        found = _PREPARED[key] = sqlwrite.Prepared(build(dialect.name), dialect)
    return found


def apply_one(conn, dialect, decision: CancelDecision, *, endpoint_ids: list[int],
              context: dict, next_cancellation_id: int | None = None) -> int:
    """Make one decision durable; returns the cancellation's id. `conn`: on PostgreSQL a
    driver (psycopg) connection, autocommit or inside the caller's transaction;
    otherwise a SQLAlchemy connection in the caller's transaction."""
    interview = decision.interview
    actor = decision.actor
    shape = _Shape(needs_review=decision.needs_review, frees_place=decision.frees_place,
                   approval_levels=decision.approval_levels,
                   messages=len(decision.recipients), deliveries=len(endpoint_ids),
                   actor_type=actor.type.value, with_rule=actor.rule is not None,
                   with_reschedule=decision.reschedule_by is not None)
    guard, insert_cancellation, dependents, combined = _plan(dialect.name, shape)
    params = {"iv_id": interview.id, "old_version": interview.version,
              "new_version": decision.after.version, "new_status": decision.after.status,
              "old_status": interview.status, "now": decision.now,
              "place_session_id": interview.session_id,
              "c0_actor_id": actor.id, "c0_reason_id": decision.reason.id,
              "c0_note": decision.note, "c0_state": decision.state,
              "c0_decided_at": None if decision.needs_review else decision.now,
              "c0_actor_rule": actor.rule, "c0_reschedule_by": decision.reschedule_by}

    def dependent_params(cancellation_id: int) -> dict:
        event = f"{decision.event_type}:{cancellation_id}"
        values = {"cancellation_id": cancellation_id}
        values.update(sqlwrite.rows_params("a", [
            {"level": level} for level in range(1, decision.approval_levels + 1)]))
        values.update(audit.entry_params(
            actor_type=actor.type.value, actor_id=actor.id, action=decision.event_type,
            object_type="interview", object_id=interview.id,
            data=audit_data(decision, cancellation_id), ip=actor.ip))
        values.update(outbox.fanout_params(
            event, context,
            [(r.kind, r.recipient_type, r.recipient_id) for r in decision.recipients],
            request_id=actor.request_id))
        if endpoint_ids:
            values.update(webhooks.delivery_params(
                decision.event_type, event, webhook_payload(decision), endpoint_ids,
                request_id=actor.request_id))
        return values

    if combined is not None:  # PostgreSQL: one round trip
        cancellation_id = next_cancellation_id
        if cancellation_id is None:
            with conn.cursor() as cursor:
                cursor.execute("SELECT nextval(pg_get_serial_sequence('cancellations', 'id'))")
                cancellation_id = cursor.fetchone()[0]
        params["c0_id"] = cancellation_id
        params.update(dependent_params(cancellation_id))
        if prepared(dialect, shape, lambda _: combined).first(conn, params)[0] != 1:
            raise LostRace()
        return cancellation_id
    if conn.execute(guard, params).first() is None:
        raise LostRace()
    cancellation_id = conn.execute(insert_cancellation, params).inserted_primary_key[0]
    params.update(dependent_params(cancellation_id))
    for statement in dependents:
        conn.execute(statement, params)
    return cancellation_id


# --- many decisions (a batch), set-based -----------------------------------------------

def free_places(connection, freed: dict[int, int], now) -> None:
    """Give back `n` places of each session: one UPDATE per distinct count, in SQL (not
    read-modify-write: a concurrent reschedule's booked + 1 survives), never below 0."""
    by_count: dict[int, list[int]] = {}
    for session_id, count in freed.items():
        by_count.setdefault(count, []).append(session_id)
    for count, session_ids in by_count.items():
        connection.execute(
            update(SESSIONS).where(SESSIONS.c.id.in_(sorted(session_ids)))
            .values(booked=case((SESSIONS.c.booked > count, SESSIONS.c.booked - count),
                                else_=0), updated_at=now))


@lru_cache(maxsize=4)
def _cancel_interviews(dialect_name: str):
    """The chunk's interviews UPDATE, built once (SQLAlchemy then finds its compiled form
    without building and keying a new statement per chunk)."""
    if dialect_name == "postgresql":
        ids = sqlwrite.id_in(INTERVIEWS.c.id, [], dialect_name)
    else:
        ids = INTERVIEWS.c.id.in_(bindparam("id_list", expanding=True))
    now = bindparam("chunk_now", type_=INTERVIEWS.c.updated_at.type)
    return update(INTERVIEWS).where(ids).values(
        status=bindparam("chunk_status", type_=INTERVIEWS.c.status.type),
        version=INTERVIEWS.c.version + 1, cancelled_at=now, updated_at=now)


def apply_chunk(connection, decisions: list[CancelDecision], *, endpoints, contexts,
                ) -> dict[int, int]:
    """Write up to CHUNK effective cancels whose interviews the caller locked (or, on
    SQLite, holds the write lock for): returns {interview id: cancellation id}."""
    if not decisions:
        return {}
    assert len(decisions) <= CHUNK
    first = decisions[0]
    now = first.now
    free_places(connection, Counter(d.interview.session_id for d in decisions
                                    if d.frees_place), now)
    actor = first.actor
    actor_type = actor.type.value  # (an enum's .value is a slow property: once per chunk)
    update_params = {"id_list": [d.interview.id for d in decisions],
                     "chunk_status": first.after.status, "chunk_now": now}
    cancellation_rows = [
        dict(interview_id=d.interview.id, actor_type=actor_type, actor_id=actor.id,
             actor_rule=actor.rule, reason_id=d.reason.id, note=d.note, state=d.state,
             requested_at=now, decided_at=now, batch_id=d.batch_id,
             reschedule_by=d.reschedule_by, created_at=now, updated_at=now)
        for d in decisions]
    with _chunk_writer(connection) as writer:
        if writer is connection:  # SQLite: one statement after the other
            connection.execute(_cancel_interviews(connection.dialect.name), update_params)
            # The rows come back in any order: matched by interview id (once per chunk).
            written = sqlwrite.insert_set(connection, CANCELLATIONS, cancellation_rows,
                                          returning=("id", "interview_id"))
            cancellation_ids = {interview_id: cid for cid, interview_id in written}
        else:
            # PostgreSQL, pipelined: the cancellations' ids are taken first (a read waits
            # for what was sent before it), then every write goes out without waiting,
            # and the server runs each while the next one's rows are built here.
            taken = writer.next_ids(CANCELLATIONS, len(cancellation_rows))
            cancellation_rows = [dict(id=cid, **row) for cid, row
                                 in zip(taken, cancellation_rows, strict=True)]
            prepared(connection.dialect, "chunk-interviews", _cancel_interviews).send(
                writer, update_params)
            sqlwrite.insert_set(writer, CANCELLATIONS, cancellation_rows)
            cancellation_ids = {row["interview_id"]: row["id"] for row in cancellation_rows}
        audit_rows, messages, deliveries = [], [], []
        tokens = iter(outbox.open_tokens(sum(len(d.recipients) for d in decisions)))
        subscribed: dict[str, list[int]] = {}  # event type -> endpoint ids (a chunk's few)
        for d in decisions:
            cid = cancellation_ids[d.interview.id]
            event = f"{d.event_type}:{cid}"
            audit_rows.append(audit.entry_row(
                actor_type=actor_type, actor_id=actor.id, action=d.event_type,
                object_type="interview", object_id=d.interview.id, data=audit_data(d, cid),
                ip=actor.ip, at=now))
            context = contexts(d)
            messages += [outbox.message_row(
                event=event, kind=r.kind, recipient_type=r.recipient_type,
                recipient_id=r.recipient_id, interview_id=d.interview.id, context=context,
                now=now, request_id=actor.request_id, open_token=next(tokens))
                for r in d.recipients]
            endpoint_ids = subscribed.get(d.event_type)
            if endpoint_ids is None:
                endpoint_ids = subscribed[d.event_type] = webhooks.endpoints_subscribed(
                    endpoints, d.event_type)
            if endpoint_ids:
                body = webhooks.event_body(d.event_type, event, webhook_payload(d))
                deliveries += [webhooks.delivery_row(endpoint_id=e, event_type=d.event_type,
                                                     event_id=event, body=body, now=now,
                                                     request_id=actor.request_id)
                               for e in endpoint_ids]
        audit.write(writer, audit_rows)
        outbox.write(writer, messages, ids=False)
        webhooks.write(writer, deliveries)
    return cancellation_ids


def _chunk_writer(connection):
    """Where a chunk's writes go: on PostgreSQL a pipeline on the driver's connection (in
    the caller's transaction; an error surfaces when the block ends), elsewhere the
    connection itself."""
    if connection.dialect.name == "postgresql":
        return sqlwrite.pipelined(connection)
    return nullcontext(connection)


# --- a review step -----------------------------------------------------------------------

def apply_approval(connection, outcome: ApprovalOutcome, *, context: dict,
                   endpoint_ids: list[int]) -> None:
    """Record the level's decision, move the request and the interview (guarded by the
    version read), and queue what the outcome says."""
    request = outcome.request
    interview = request.interview
    now = outcome.now
    actor = outcome.actor
    if outcome.changes_interview:
        values = {"status": outcome.new_status, "version": interview.version + 1,
                  "updated_at": now, "status_before_request": None}
        if outcome.new_status.value == "cancelled":
            values["cancelled_at"] = now
        changed = connection.execute(
            update(INTERVIEWS).where(INTERVIEWS.c.id == interview.id,
                                     INTERVIEWS.c.version == interview.version)
            .values(**values)).rowcount
        if changed != 1:
            raise LostRace()
    if outcome.frees_place:
        free_places(connection, {interview.session_id: 1}, now)
    request_values: dict = {"state": outcome.cancellation_state, "updated_at": now}
    if outcome.final:
        request_values["decided_at"] = now
    if outcome.action.value == "ask_detail":
        request_values.update(detail_question=outcome.comment, detail_requested_at=now,
                              detail_answer=None, detail_answered_at=None)
    moved = connection.execute(
        update(CANCELLATIONS).where(CANCELLATIONS.c.id == request.cancellation_id,
                                    CANCELLATIONS.c.state == request.state)
        .values(**request_values)).rowcount
    if moved != 1:
        raise LostRace()
    if outcome.action.value != "ask_detail":
        decision = (ApprovalDecision.REJECTED if outcome.action.value == "reject"
                    else ApprovalDecision.APPROVED)
        # A settlement (the system, at the start) decides every level still open.
        levels = (APPROVALS.c.decision == ApprovalDecision.PENDING if outcome.settles_all
                  else APPROVALS.c.level == outcome.level)
        connection.execute(
            update(APPROVALS).where(APPROVALS.c.cancellation_id == request.cancellation_id,
                                    levels)
            .values(decision=decision, approver_id=actor.id, comment=outcome.comment,
                    decided_at=now, updated_at=now))
        if outcome.final and decision == ApprovalDecision.REJECTED:
            # Levels not reached are closed with the request.
            connection.execute(
                update(APPROVALS).where(APPROVALS.c.cancellation_id == request.cancellation_id,
                                        APPROVALS.c.level > outcome.level)
                .values(decision=ApprovalDecision.REJECTED, updated_at=now))
    step = f"{outcome.event_type}:{request.cancellation_id}:{outcome.level}:" \
           f"{int(now.timestamp() * 1000)}"
    audit.write(connection, [audit.entry_row(
        actor_type=actor.type.value, actor_id=actor.id, action=outcome.event_type,
        object_type="interview", object_id=interview.id,
        data={"cancellation_id": request.cancellation_id, "level": outcome.level,
              "comment": outcome.comment, "number": interview.number,
              "before": {"status": InterviewStatus(interview.status).value},
              "after": {"status": InterviewStatus(outcome.new_status).value},
              **({"rule": actor.rule} if actor.rule else {}),
              **({"request_id": actor.request_id} if actor.request_id else {})}, ip=actor.ip,
        at=now)])
    outbox.write(connection, [outbox.message_row(
        event=step, kind=r.kind, recipient_type=r.recipient_type,
        recipient_id=r.recipient_id, interview_id=interview.id, context=context, now=now,
        request_id=actor.request_id)
        for r in outcome.recipients])
    if endpoint_ids and outcome.final:
        payload = webhooks.interview_payload(
            _after(outcome), reason=request.reason, actor_type=actor.type.value,
            actor_id=actor.id, at=now)
        payload["comment"] = outcome.comment
        body = webhooks.event_body(outcome.event_type, step, payload)
        webhooks.write(connection, [webhooks.delivery_row(
            endpoint_id=e, event_type=outcome.event_type, event_id=step, body=body, now=now,
            request_id=actor.request_id)
            for e in endpoint_ids])


def _after(outcome: ApprovalOutcome) -> InterviewFacts:
    from dataclasses import replace

    interview = outcome.request.interview
    return replace(interview, status=outcome.new_status, version=interview.version + 1)


def apply_detail_answer(connection, request, answer: str, *, now, context: dict,
                        ip: str | None = None) -> None:
    """The candidate's answer: the request is back in the queue; the team is told."""
    from app.services.interviews.recipients import recipients

    moved = connection.execute(
        update(CANCELLATIONS).where(CANCELLATIONS.c.id == request.cancellation_id,
                                    CANCELLATIONS.c.state == CancellationState.DETAIL_REQUESTED)
        .values(state=CancellationState.REQUESTED, detail_answer=answer,
                detail_answered_at=now, updated_at=now)).rowcount
    if moved != 1:
        raise LostRace()
    interview = request.interview
    audit.write(connection, [audit.entry_row(
        actor_type="candidate", actor_id=interview.candidate.id,
        action="interview.cancel_detail_answered", object_type="interview",
        object_id=interview.id, data={"cancellation_id": request.cancellation_id,
                                      "answer": answer, "number": interview.number},
        ip=ip, at=now)])
    event = f"interview.cancel_detail_answered:{request.cancellation_id}:" \
            f"{int(now.timestamp() * 1000)}"
    outbox.write(connection, [outbox.message_row(
        event=event, kind=r.kind, recipient_type=r.recipient_type,
        recipient_id=r.recipient_id, interview_id=interview.id, context=context, now=now)
        for r in recipients("detail_answered", interview, interview.candidate.id)])
