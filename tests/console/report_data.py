"""The rows the report tests seed (and remember as plain values, for the expected
figures): four positions in two departments, five reasons (one labelled like a formula),
90 interviews around a two-week period with their cancellations (effective, rejected,
requested; at times close to Beijing midnight) and outbox rows of every status."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.models import (
    Cancellation,
    CancellationState,
    CancelReason,
    Candidate,
    Interview,
    InterviewStatus,
    OutboxMessage,
    OutboxStatus,
    Position,
    ReasonActor,
)

FROM, TO = date(2026, 3, 2), date(2026, 3, 15)   # Monday .. Sunday, two ISO weeks
NOW = datetime(2026, 3, 20, 4, 0, tzinfo=UTC)
PROMISE_MINUTES = 60                               # the rule's default
DEPARTMENTS = ("技术部", "销售部")
POSITIONS = [("Java工程师", "技术部"), ("前端工程师", "技术部"), ("销售代表", "销售部"),
             ("大客户经理", "销售部")]
REASONS = [("time_conflict", "时间冲突", "candidate_initiated", ReasonActor.CANDIDATE),
           ("found_other_job", "已找到其他工作", "candidate_initiated", ReasonActor.CANDIDATE),
           ("position_filled", "岗位已招满", "position_change", ReasonActor.COMPANY),
           ("system_failure", "系统故障", "technical", ReasonActor.COMPANY),
           ("formula", "=1+2", "candidate_mismatch", ReasonActor.COMPANY)]
CHANNELS = ("subscribe", "oa_template", "sms", None)
INITIATOR_OF = {"candidate": "candidate", "hr": "company", "system": "system"}


def local_day(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).date().isoformat()


def in_period(dt: datetime | None) -> bool:
    return dt is not None and FROM <= dt.astimezone(SHANGHAI).date() <= TO


@dataclass
class Seeded:
    """What was written, as plain values, for the expected figures."""
    interviews: list[dict] = field(default_factory=list)
    cancellations: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)

    def effective(self, departments=DEPARTMENTS):
        return [c for c in self.cancellations if c["state"] == CancellationState.EFFECTIVE
                and in_period(c["decided_at"] or c["requested_at"])
                and c["department"] in departments]

    def period_messages(self, departments=DEPARTMENTS):
        """The messages the notification report counts: those of the period, without the
        ones withdrawn at dispatch (skipped: never meant to reach anyone)."""
        return [m for m in self.messages if in_period(m["created_at"])
                and m["department"] in departments and m["status"] != OutboxStatus.SKIPPED]


def _at(rng: random.Random, start: date, days: int) -> datetime:
    """A random instant of these local days, often close to midnight (day boundaries)."""
    day = start + timedelta(days=rng.randrange(days))
    minute = rng.choice([0, 5, 23 * 60 + 55, rng.randrange(24 * 60)])
    return (datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
            + timedelta(minutes=minute)).astimezone(UTC)


def seed(app, n_interviews: int = 90) -> Seeded:
    rng = random.Random(20260302)
    seeded = Seeded()
    with app.app_context():
        positions = [Position(title=t, department=d, level="P5") for t, d in POSITIONS]
        reasons = [CancelReason(code=c, label=label, category=cat, actor=actor)
                   for c, label, cat, actor in REASONS]
        db.session.add_all(positions + reasons)
        db.session.flush()
        for n in range(n_interviews):
            position = rng.choice(positions)
            # Mostly in the period, some just before or after it.
            scheduled = _at(rng, FROM - timedelta(days=2), (TO - FROM).days + 5)
            status = rng.choice([InterviewStatus.SCHEDULED, InterviewStatus.CONFIRMED,
                                 InterviewStatus.CANCELLED, InterviewStatus.CANCELLED,
                                 InterviewStatus.CANCEL_PENDING, InterviewStatus.COMPLETED])
            name = "=HYPERLINK(1)" if n == 0 else f"候选人{n}"
            candidate = Candidate(name=name)
            interview = Interview(number=f"AI-2026-03-{n:04d}", candidate=candidate,
                                  position=position, status=status, scheduled_at=scheduled)
            db.session.add_all([candidate, interview])
            db.session.flush()
            seeded.interviews.append({"id": interview.id, "position": position.title,
                                      "department": position.department, "status": status,
                                      "scheduled_at": scheduled})
            states = []
            if status == InterviewStatus.CANCELLED:
                if rng.random() < 0.3:
                    states.append(CancellationState.REJECTED)   # an earlier refused request
                states.append(CancellationState.EFFECTIVE)
            elif status == InterviewStatus.CANCEL_PENDING:
                states.append(CancellationState.REQUESTED)
            for state in states:
                reason = rng.choice(reasons)
                actor_type = rng.choice(["candidate", "hr", "system"])
                requested = _at(rng, FROM - timedelta(days=1), (TO - FROM).days + 3)
                decided = (None if state == CancellationState.REQUESTED or rng.random() < 0.2
                           else requested + timedelta(hours=rng.choice([0, 0, 3, 30])))
                cancellation = Cancellation(
                    interview_id=interview.id, reason_id=reason.id, state=state,
                    actor_type=actor_type, requested_at=requested, decided_at=decided,
                    note="+86 备注" if n % 7 == 0 else None)
                db.session.add(cancellation)
                seeded.cancellations.append({
                    "state": state, "reason": reason.code, "label": reason.label,
                    "category": reason.category, "actor_type": actor_type,
                    "requested_at": requested, "decided_at": decided,
                    "department": position.department, "position": position.title})
            for k in range(rng.randrange(0, 4)):
                seeded.messages.append(_message(rng, interview, position, k))
        # A message without an interview (a staff summary): admins only.
        summary = OutboxMessage(dedupe_key="summary:1", event="batch.done", kind="summary",
                                recipient_type="hr_user", recipient_id=1, channel="oa_template",
                                status=OutboxStatus.SENT, next_attempt_at=NOW,
                                created_at=datetime(2026, 3, 10, 2, tzinfo=UTC),
                                sent_at=datetime(2026, 3, 10, 2, 0, 30, tzinfo=UTC))
        db.session.add(summary)
        seeded.messages.append({"channel": "oa_template", "status": OutboxStatus.SENT,
                                "recipient_type": "hr_user", "interview_id": None,
                                "department": None, "created_at": summary.created_at,
                                "sent_at": summary.sent_at, "delivered_at": None,
                                "read_at": None})
        db.session.commit()
    return seeded


def _message(rng, interview, position, k) -> dict:
    created = _at(rng, FROM - timedelta(days=1), (TO - FROM).days + 3)
    status = rng.choice(list(OutboxStatus))
    channel = None if status == OutboxStatus.QUEUED else rng.choice(CHANNELS[:3])
    sent = delivered = read = None
    if status in (OutboxStatus.SENT, OutboxStatus.DELIVERED, OutboxStatus.READ) or (
            status == OutboxStatus.FAILED and rng.random() < 0.5):
        sent = created + timedelta(seconds=rng.choice([3, 40, 600, 3599, 3601, 7200]))
    if status in (OutboxStatus.DELIVERED, OutboxStatus.READ) and rng.random() < 0.8:
        delivered = sent + timedelta(seconds=rng.randrange(1, 60))
    if status == OutboxStatus.READ:
        read = sent + timedelta(seconds=rng.randrange(5, 5000))
    recipient = "candidate" if rng.random() < 0.7 else "hr_user"
    row = OutboxMessage(dedupe_key=f"m:{interview.id}:{k}", event="interview.cancelled",
                        kind="interview_cancelled", interview_id=interview.id,
                        recipient_type=recipient, recipient_id=1, channel=channel,
                        status=status, next_attempt_at=created, created_at=created,
                        sent_at=sent, delivered_at=delivered, read_at=read)
    db.session.add(row)
    return {"channel": channel, "status": status, "recipient_type": recipient,
            "interview_id": interview.id, "number": interview.number,
            "department": position.department, "created_at": created, "sent_at": sent,
            "delivered_at": delivered, "read_at": read}
