"""A month of demo history for `flask seed-demo` (and so `make run`): past interviews of
every position with their outcomes, cancellations and messages, so the reports and the
audit viewer have something to show on a fresh database.

The history cannot go through the live services (their clock is now: a cancel of three
weeks ago is not something they can do), so it is written directly, with the rows the
services write: the same row builders for messages (outbox.message_row, outbox.write) and
audit entries (audit.entry_row, audit.write), the events, kinds, recipients
(interviews.recipients), statuses, audit actions and the reasons' codes the services use.

Traps:
- Interviews are numbered per Beijing day after any already numbered that day.
- Only past days (yesterday and before): the demo's upcoming sessions stay untouched.
- Audit entries get their past `at` but a new id: the chain is sealed in id order by the
  sealer, like entries committed late.
- Deterministic (seeded random): two runs give the same history.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import insert, select

from app.core.timeutil import SHANGHAI, iso, utcnow
from app.extensions import db
from app.models import (
    Approval,
    ApprovalDecision,
    Cancellation,
    CancellationState,
    CancelReason,
    Candidate,
    HrUser,
    Interview,
    InterviewStatus,
    OutboxStatus,
    Position,
    ReasonActor,
    WechatAccount,
    WechatApp,
)
from app.services import audit
from app.services.cancellation.system import AUTO_CANCEL_RULE, unconfirmed_reason
from app.services.interviews.recipients import EVENTS
from app.services.notifications import outbox

HISTORY_DAYS = 30
PER_POSITION = 30
# completed, no-show, cancelled by the candidate, by the company, by the system
OUTCOMES = ("completed", "no_show", "candidate", "company", "system")
WEIGHTS = {"技术部": (62, 10, 16, 7, 5), "AI实验室": (60, 12, 15, 8, 5),
           "销售部": (40, 14, 32, 8, 6)}
# Candidates' channels (the mini program's subscribe message first, as routing tries).
CANDIDATE_CHANNELS = (("subscribe", "mp", 60), ("oa_template", "oa", 25), ("sms", None, 15))
UNREACHABLE_CANDIDATES = 2
FAILED_SHARE = 0.04
NO_ROUTE = "收件人没有可用的通知渠道（未订阅、未关注、无手机号和邮箱）"
BAD_OPENID = (40003, "接收人openid无效（可能是另一个应用的openid）（40003：invalid openid）")


def seed_history(rng: random.Random, surnames: str, given: list[str],
                 now: datetime | None = None) -> dict:
    """Write the history; returns what it wrote (counts by outcome, messages)."""
    now = now or utcnow()
    system_reason_id = unconfirmed_reason().id  # created (committed) when missing
    reasons = {actor: [r for r in db.session.scalars(
        select(CancelReason).where(CancelReason.actor == actor, CancelReason.active)
        .order_by(CancelReason.sort_order)) if not r.requires_note]
        for actor in (ReasonActor.CANDIDATE, ReasonActor.COMPANY)}
    reasons[ReasonActor.COMPANY] = [r for r in reasons[ReasonActor.COMPANY]
                                    if r.id != system_reason_id]
    interviewer = db.session.scalar(select(HrUser).where(HrUser.username == "interviewer"))
    positions = list(db.session.scalars(select(Position).order_by(Position.id)))
    today = now.astimezone(SHANGHAI).date()
    writer = _Writer(rng, now)
    made = dict.fromkeys(OUTCOMES, 0)
    serial = 0
    for position in positions:
        weights = WEIGHTS.get(position.department, WEIGHTS["技术部"])
        for _ in range(PER_POSITION):
            serial += 1
            # A couple of candidates nobody could reach: the company cancelled them.
            unreachable = serial % (len(positions) * PER_POSITION // UNREACHABLE_CANDIDATES
                                    ) == 7
            outcome = "company" if unreachable else rng.choices(OUTCOMES, weights)[0]
            made[outcome] += 1
            day = today - timedelta(days=1 + rng.randrange(HISTORY_DAYS))
            scheduled = datetime.combine(day, time(rng.choice((9, 10, 11, 14, 15, 16)),
                                                   rng.choice((0, 30))), SHANGHAI)
            candidate, address = writer.candidate(serial, surnames, given)
            interview = writer.interview(candidate, position, interviewer, scheduled, day,
                                         serial, outcome)
            writer.reminder(interview, candidate, address, unreachable)
            if outcome in ("candidate", "company", "system"):
                writer.cancellation(interview, candidate, address, position, outcome,
                                    reasons, system_reason_id, unreachable)
    writer.flush()
    db.session.commit()
    return {"interviews": sum(made.values()), "outcomes": made,
            "messages": writer.messages_written}


class _Writer:
    def __init__(self, rng: random.Random, now: datetime):
        self.rng, self.now = rng, now
        self.counters: dict[date, int] = {}
        self.messages: list[dict] = []
        self.entries: list[dict] = []
        self.messages_written = 0
        self.staff = {u.id: u.username for u in db.session.scalars(select(HrUser))}

    # --- people and interviews ------------------------------------------------------------

    def candidate(self, serial: int, surnames: str, given: list[str]):
        rng = self.rng
        candidate = Candidate(name=rng.choice(surnames) + rng.choice(given),
                              email=f"history{serial:03d}@example.com")
        phone = f"139{rng.randrange(10**8):08d}"
        candidate.phone = phone
        db.session.add(candidate)
        channel = rng.choices(CANDIDATE_CHANNELS, [w for *_, w in CANDIDATE_CHANNELS])[0]
        openid = f"sandbox-history-{serial:03d}"
        if channel[1] == "mp":
            db.session.add(WechatAccount(app=WechatApp.MINI_PROGRAM, openid=openid,
                                         unionid=f"sandbox-union-{openid}",
                                         candidate=candidate))
        elif channel[1] == "oa":
            db.session.add(WechatAccount(app=WechatApp.OFFICIAL_ACCOUNT, openid=openid,
                                         unionid=f"sandbox-union-{openid}",
                                         candidate=candidate, followed=True))
        address = openid if channel[1] else phone[:3] + "****" + phone[-4:]
        return candidate, (channel[0], channel[1], address)

    def interview(self, candidate, position, interviewer, scheduled, day, serial, outcome):
        from app.cli.demo import _existing_count

        rng = self.rng
        self.counters[day] = self.counters.get(day, _existing_count(day)) + 1
        created = scheduled - timedelta(hours=rng.uniform(72, 240))
        confirmed = (created + timedelta(hours=rng.uniform(1, 40))
                     if outcome in ("completed", "no_show") else None)
        status = {"completed": InterviewStatus.COMPLETED, "no_show": InterviewStatus.NO_SHOW
                  }.get(outcome, InterviewStatus.CANCELLED)
        interview = Interview(
            number=f"AI-{day:%Y-%m-%d}-{self.counters[day]:03d}", candidate=candidate,
            position=position, interviewer_id=interviewer.id if interviewer else None,
            scheduled_at=scheduled, duration_minutes=30, status=status,
            join_url=f"https://interview.example.com/room/h{serial:03d}",
            confirm_by=scheduled - timedelta(hours=24), confirmed_at=confirmed,
            created_at=created, updated_at=scheduled + timedelta(minutes=40),
            version=2 if outcome in ("completed", "no_show") else 1)
        db.session.add(interview)
        db.session.flush()
        return interview

    # --- messages ---------------------------------------------------------------------------

    def _message(self, *, event, kind, recipient_type, recipient_id, interview, at, route,
                 context, fail: str | None = None, opened: float = 0.6):
        """One message as the dispatcher and the receipts leave it: sent a few seconds
        after the event (now and then minutes), delivered, opened or not; or failed."""
        rng = self.rng
        row = outbox.message_row(event=event, kind=kind, recipient_type=recipient_type,
                                 recipient_id=recipient_id, interview_id=interview.id,
                                 context=context, now=at)
        channel, app, touser = route
        sent = delivered = read = None
        errcode = error = msgid = None
        if fail == "unreachable":
            status, error, attempts = OutboxStatus.UNREACHABLE, NO_ROUTE, 3
        elif fail == "failed":
            status, attempts = OutboxStatus.FAILED, 1
            errcode, error = BAD_OPENID
        else:
            attempts = 1
            slow = rng.random() < 0.03
            sent = at + timedelta(seconds=rng.uniform(600, 5400) if slow
                                  else rng.uniform(1.5, 40))
            msgid = f"demo-{rng.randrange(10**12)}"
            status = OutboxStatus.SENT
            if rng.random() < 0.93:
                delivered = sent + timedelta(seconds=rng.uniform(1, 20))
                status = OutboxStatus.DELIVERED
                if recipient_type == "candidate" and rng.random() < opened:
                    read = delivered + timedelta(minutes=rng.expovariate(1 / 45))
                    status = OutboxStatus.READ
        last = read or delivered or sent or at + timedelta(minutes=2)
        row.update(channel=channel, app=app, touser=touser, status=status, attempts=attempts,
                   sent_at=sent, delivered_at=delivered, read_at=read, errcode=errcode,
                   last_error=error, msgid=msgid, open_count=1 if read else 0,
                   next_attempt_at=at, updated_at=min(last, self.now))
        self.messages.append(row)

    def _staff_route(self, user_id: int):
        return ("oa_template", "oa", f"sandbox-hr-{self.staff.get(user_id, user_id)}")

    def _event_messages(self, event_name: str, event: str, interview, candidate, route, at,
                        context, unreachable: bool, exclude: int | None = None):
        """The candidate's message and the staff's of this recipients event."""
        candidate_kind, staff_kind, roles = EVENTS[event_name]
        fail = "unreachable" if unreachable else (
            "failed" if self.rng.random() < FAILED_SHARE else None)
        if candidate_kind:
            self._message(event=event, kind=candidate_kind, recipient_type="candidate",
                          recipient_id=candidate.id, interview=interview, at=at, route=route,
                          context=context, fail=fail)
        position = interview.position
        team = {"recruiter": position.recruiter_id, "hiring_manager": position.hiring_manager_id,
                "interviewer": interview.interviewer_id}
        for user_id in dict.fromkeys(team[r] for r in roles if team.get(r)):
            if staff_kind and user_id != exclude:
                self._message(event=event, kind=staff_kind, recipient_type="hr_user",
                              recipient_id=user_id, interview=interview, at=at,
                              route=self._staff_route(user_id), context=context)

    def context(self, interview, candidate, reason_label="", **extra) -> dict:
        return {"interview_number": interview.number,
                "interview_public_id": interview.public_id, "candidate_name": candidate.name,
                "position_title": interview.position.title,
                "department": interview.position.department,
                "scheduled_at": iso(interview.scheduled_at), "reason_label": reason_label,
                "note": "", **extra}

    def reminder(self, interview, candidate, route, unreachable: bool) -> None:
        """The confirmation reminder, for those still 待确认 a day and a half before."""
        at = interview.scheduled_at - timedelta(hours=36)
        if interview.confirmed_at is not None and interview.confirmed_at <= at:
            return
        if at <= interview.created_at:
            return
        self._message(
            event=f"interview.confirm_reminder:{interview.id}:"
                  f"{int(interview.confirm_by.timestamp())}",
            kind="candidate_confirm_reminder", recipient_type="candidate",
            recipient_id=candidate.id, interview=interview, at=at, route=route,
            context=self.context(interview, candidate, confirm_by=iso(interview.confirm_by)),
            fail="unreachable" if unreachable else None, opened=0.7)

    # --- cancellations --------------------------------------------------------------------

    def cancellation(self, interview, candidate, route, position, outcome, reasons,
                     system_reason_id, unreachable) -> None:
        rng = self.rng
        scheduled = interview.scheduled_at
        review = outcome == "candidate" and position.cancel_requires_review
        if outcome == "system":
            at = interview.confirm_by + timedelta(minutes=rng.uniform(1, 5))
            actor_type, actor_id, rule, reason_id = "system", None, AUTO_CANCEL_RULE, \
                system_reason_id
            reason = db.session.get(CancelReason, system_reason_id)
            event_name = "system_cancelled"
        elif outcome == "candidate":
            at = scheduled - timedelta(hours=rng.uniform(3, 70))
            reason = rng.choice(reasons[ReasonActor.CANDIDATE])
            actor_type, actor_id, rule, reason_id = "candidate", candidate.id, None, reason.id
            event_name = "candidate_cancelled"
        else:
            at = scheduled - timedelta(hours=rng.uniform(5, 90))
            reason = rng.choice(reasons[ReasonActor.COMPANY])
            actor_id = rng.choice([position.recruiter_id, position.hiring_manager_id])
            actor_type, rule, reason_id = "hr", None, reason.id
            event_name = "company_cancelled"
        at = max(at, interview.created_at + timedelta(hours=1))
        decided = at + timedelta(hours=rng.uniform(0.3, 20)) if review else at
        decided = min(decided, scheduled - timedelta(minutes=30))
        state = CancellationState.EFFECTIVE
        cancellation_id = db.session.execute(
            insert(Cancellation).values(
                interview_id=interview.id, actor_type=actor_type, actor_id=actor_id,
                actor_rule=rule, reason_id=reason_id, note=None, state=state,
                requested_at=at, decided_at=decided, created_at=at, updated_at=decided)
            .returning(Cancellation.id)).scalar_one()
        interview.cancelled_at = decided
        interview.version = 3 if review else 2
        before = {"status": InterviewStatus.SCHEDULED.value}
        context = self.context(interview, candidate, reason.label, actor_type=actor_type)
        if review:
            approver = position.hiring_manager_id
            db.session.execute(insert(Approval).values(
                cancellation_id=cancellation_id, level=1, approver_id=approver,
                decision=ApprovalDecision.APPROVED, decided_at=decided, created_at=at,
                updated_at=decided))
            self._entry("candidate", candidate.id, "interview.cancel_requested", interview, at,
                        {"reason": reason.code, "note": None, "cancellation_id": cancellation_id,
                         "number": interview.number, "before": before,
                         "after": {"status": InterviewStatus.CANCEL_PENDING.value}})
            self._event_messages("cancel_requested", f"interview.cancel_requested:"
                                 f"{cancellation_id}", interview, candidate, route, at, context,
                                 unreachable)
            self._entry("hr", approver, "interview.cancel_approved", interview, decided,
                        {"cancellation_id": cancellation_id, "level": 1, "comment": None,
                         "number": interview.number,
                         "before": {"status": InterviewStatus.CANCEL_PENDING.value},
                         "after": {"status": InterviewStatus.CANCELLED.value}})
            self._event_messages("cancel_approved", f"interview.cancel_approved:"
                                 f"{cancellation_id}:1:{int(decided.timestamp() * 1000)}",
                                 interview, candidate, route, decided, context, unreachable,
                                 exclude=approver)
            return
        data = {"reason": reason.code, "note": None, "cancellation_id": cancellation_id,
                "number": interview.number, "before": before,
                "after": {"status": InterviewStatus.CANCELLED.value}}
        if rule:
            data["rule"] = rule
        self._entry(actor_type, actor_id, "interview.cancelled", interview, at, data)
        self._event_messages(event_name, f"interview.cancelled:{cancellation_id}", interview,
                             candidate, route, at, context, unreachable,
                             exclude=actor_id if actor_type == "hr" else None)

    def _entry(self, actor_type, actor_id, action, interview, at, data) -> None:
        self.entries.append(audit.entry_row(
            actor_type=actor_type, actor_id=actor_id, action=action, object_type="interview",
            object_id=interview.id, data=data, ip=None, at=at))

    def flush(self) -> None:
        db.session.flush()
        connection = db.session.connection()
        # In time order, as they would have been written.
        self.entries.sort(key=lambda e: e["at"])
        self.messages.sort(key=lambda m: m["created_at"])
        audit.write(connection, self.entries)
        self.messages_written = len(outbox.write(connection, self.messages))
