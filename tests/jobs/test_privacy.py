"""Personal data lifecycle: candidates whose process ended more than the retention period
ago are anonymised in batches (exactly at the period: not yet), their rows kept so
reports count the same; erasure requests are carried out at their deadline (N working
days, the statutory calendar's holidays skipped); one audit entry per candidate, without
the personal data."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.jobs import privacy as job
from app.models import (
    AuditEntry,
    Cancellation,
    Candidate,
    CandidateAnonymisation,
    ErasureRequest,
    ErasureStatus,
    Feedback,
    InterviewStatus,
    OutboxMessage,
    WechatAccount,
)
from app.services.candidates import privacy
from app.services.users.actor import Actor
from tests import factories

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
DAYS = 180


def _ended(app, ended_at, *, status=InterviewStatus.CANCELLED, openid="oid-ended", **kw):
    iv = factories.interview(app, f"AI-T-{openid}", status=status, scheduled_at=ended_at,
                             **({"cancelled_at": ended_at}
                                if status == InterviewStatus.CANCELLED else {}), **kw)
    with factories.committed(app) as session:
        cand = session.get(Candidate, iv.candidate_id)
        cand.email = "zhangsan@example.com"
        cand.external_ref = f"ATS-{openid}"
        session.add(WechatAccount(app="mp", openid=openid, candidate_id=cand.id))
        session.add(Feedback(candidate_id=cand.id, interview_id=iv.id,
                             content="我的手机13800138000"))
    factories.cancellation(app, iv.id, note="家里有事，电话13800138000",
                           requested_at=ended_at, decided_at=ended_at)
    factories.outbox_message(app, iv.id, recipient_id=iv.candidate_id, touser=openid,
                             context={"candidate_name": "张三", "note": "家里有事",
                                      "position_title": "Java工程师"})
    return iv


def _run(app, now):
    with app.app_context():
        return job.run(now)


def test_a_process_ended_exactly_the_retention_period_ago_is_kept(app):
    iv = _ended(app, NOW - timedelta(days=DAYS))
    assert _run(app, NOW) == 0
    with app.app_context():
        assert db.session.get(Candidate, iv.candidate_id).name == "张三"
    assert _run(app, NOW + timedelta(seconds=1)) == 1


def test_anonymising_erases_personal_fields_and_keeps_the_rows(app):
    iv = _ended(app, NOW - timedelta(days=DAYS + 1))
    with app.app_context():
        counts_before = _counts()
    assert _run(app, NOW) == 1
    with app.app_context():
        cand = db.session.get(Candidate, iv.candidate_id)
        assert (cand.name, cand.phone, cand.phone_encrypted, cand.phone_hash, cand.email,
                cand.external_ref) == ("已匿名化", None, None, None, None, None)
        assert db.session.scalars(select(WechatAccount.candidate_id)).all() == [None]
        cancellation = db.session.scalars(select(Cancellation)).one()
        assert cancellation.note is None
        assert db.session.scalars(select(Feedback.content)).one() == "（已删除）"
        message = db.session.scalars(select(OutboxMessage)).one()
        assert message.touser is None and "note" not in message.context
        assert message.context["candidate_name"] == "已匿名化"
        assert message.context["position_title"] == "Java工程师"
        assert _counts() == counts_before
        [entry] = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "candidate.anonymised")).all()
        assert entry.object_id == iv.candidate_id and entry.data["trigger"] == "retention"
        assert not any(s in str(entry.data) for s in ("张三", "13800138000", "oid-ended"))
    assert _run(app, NOW + timedelta(days=1)) == 0   # never twice


def _counts():
    from app.services.reports.figures import cancellation_report, report_filters

    report = cancellation_report(Actor.system("test"), report_filters(
        "2026-05-01", "2026-11-30", today=date(2026, 12, 1)))
    return (report.total, [(r.label, r.count) for r in report.by_reason],
            db.session.scalar(select(func.count()).select_from(OutboxMessage)),
            db.session.scalar(select(func.count()).select_from(Cancellation)))


def test_the_report_counts_the_same_cancellations_after_anonymising(app):
    _ended(app, NOW - timedelta(days=DAYS + 2), openid="a")
    _ended(app, NOW - timedelta(days=DAYS + 3), openid="b")
    with app.app_context():
        before = _counts()
    assert before[0] == 2
    assert _run(app, NOW) == 2
    with app.app_context():
        assert _counts() == before


def test_a_candidate_with_an_open_interview_is_never_anonymised(app):
    iv = _ended(app, NOW - timedelta(days=400))
    factories.interview(app, "AI-open", candidate_id=iv.candidate_id,
                        scheduled_at=NOW + timedelta(days=2))
    assert _run(app, NOW) == 0


def test_a_candidate_still_on_a_waiting_list_is_never_anonymised(app):
    iv = _ended(app, NOW - timedelta(days=400))
    entry = factories.waitlist_entry(app, iv.position_id, iv.candidate_id, rank=1)
    assert _run(app, NOW) == 0
    with factories.committed(app) as session:
        from app.models import WaitlistEntry, WaitlistState

        session.get(WaitlistEntry, entry).state = WaitlistState.REMOVED
    assert _run(app, NOW) == 1


def test_the_retention_rule_is_hr_configurable(app):
    _ended(app, NOW - timedelta(days=40))
    assert _run(app, NOW) == 0
    admin = factories.hr_user(app, "admin1", role="admin")
    with app.app_context():
        from app.models import HrUser

        privacy.change_privacy_rules(Actor.hr(db.session.get(HrUser, admin)),
                                     {"retention_days": 30})
    assert _run(app, NOW) == 1


def test_large_backlogs_go_in_batches(app, monkeypatch):
    monkeypatch.setattr(job, "BATCH", 2)
    for i in range(5):
        _ended(app, NOW - timedelta(days=DAYS + 1), openid=f"batch-{i}")
    assert _run(app, NOW) == 5
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CandidateAnonymisation)) == 5


# --- erasure requests -------------------------------------------------------------------

def bj(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


def test_an_erasure_request_is_due_at_the_end_of_the_15th_working_day(app):
    with app.app_context():
        # Tuesday 2026-12-01: 15 working days later is Tuesday 2026-12-22
        assert privacy.erasure_due_at(bj(2026, 12, 1, 10), 15) == bj(2026, 12, 23, 0, 0)


def test_the_erasure_deadline_skips_the_national_day_holiday(app):
    with app.app_context():
        # 2026-09-30 (Wed): 10-01..10-07 are statutory holidays, 10-10 (Sat) a make-up day
        due = privacy.erasure_due_at(bj(2026, 9, 30, 10), 3)
    assert due.astimezone(SHANGHAI).date() > date(2026, 10, 8)


def test_the_erasure_deadline_over_a_year_without_calendar_data_uses_overrides(app):
    from app.services.rules import calendar

    with app.app_context():
        plain = privacy.erasure_due_at(bj(2030, 12, 30, 10), 2)   # Mon: Tue, Wed
        calendar.set_override(date(2030, 12, 31), False, "元旦前休息", actor_id=None)
        db.session.commit()
        moved = privacy.erasure_due_at(bj(2030, 12, 30, 10), 2)
    assert plain == bj(2031, 1, 2, 0, 0) and moved == bj(2031, 1, 3, 0, 0)


def test_the_job_erases_a_pending_request_exactly_at_its_deadline(app):
    iv = factories.interview(app, scheduled_at=NOW + timedelta(days=30))  # still open
    with app.app_context():
        request, created = privacy.request_erasure(iv.candidate_id, NOW)
        due = request.due_at
    assert created
    assert _run(app, due - timedelta(seconds=1)) == 0
    assert _run(app, due) == 1
    with app.app_context():
        request = db.session.scalars(select(ErasureRequest)).one()
        assert request.status == ErasureStatus.DONE and request.completed_by is None
        assert db.session.get(Candidate, iv.candidate_id).name == "已匿名化"
        anon = db.session.get(CandidateAnonymisation, iv.candidate_id)
        assert anon.trigger == "request" and anon.erasure_request_id == request.id


def test_at_the_deadline_interviews_not_over_end_first_and_only_the_team_is_told(app):
    """A request nobody carried out: at its deadline the candidate's scheduled interview
    is cancelled by the system (reason 候选人申请删除个人信息, the team told, the
    candidate not) and their open cancel request approved, through the cancellation
    core, before the data goes; nothing stays scheduled for an erased person."""
    from app.models import CancellationState, Interview
    from app.services import cancellation as core

    recruiter = factories.hr_user(app, "rec-erase")
    pos = factories.position(app, recruiter_id=recruiter, cancel_requires_review=True)
    iv = factories.interview(app, "AI-ERASE-1", position_id=pos,
                             scheduled_at=NOW + timedelta(days=30))
    asked = factories.interview(app, "AI-ERASE-2", candidate_id=iv.candidate_id,
                                position_id=pos, scheduled_at=NOW + timedelta(days=31))
    reason = factories.cancel_reason(app, "erase_time_conflict")
    with app.app_context():
        requested = core.cancel_by_candidate(candidate_id=iv.candidate_id,
                                             interview_public_id=asked.public_id,
                                             reason_code="erase_time_conflict", now=NOW)
        assert requested.status == InterviewStatus.CANCEL_PENDING
        request, _ = privacy.request_erasure(iv.candidate_id, NOW)
        due = request.due_at
    # one that started an hour before the job runs: not cancellable, it ends on its own
    started = factories.interview(app, "AI-ERASE-3", candidate_id=iv.candidate_id,
                                  position_id=pos, scheduled_at=due - timedelta(hours=1))
    with app.app_context():
        before = {m.id for m in db.session.scalars(select(OutboxMessage))}
    assert reason and _run(app, due) == 1
    with app.app_context():
        for interview_id in (iv.id, asked.id):
            interview = db.session.get(Interview, interview_id)
            assert interview.status == InterviewStatus.CANCELLED
            latest = db.session.scalars(select(Cancellation).where(
                Cancellation.interview_id == interview_id)
                .order_by(Cancellation.id.desc())).first()
            assert latest.state == CancellationState.EFFECTIVE
        by_system = db.session.scalars(select(Cancellation).where(
            Cancellation.interview_id == iv.id)).one()
        assert (by_system.actor_type, by_system.actor_rule, by_system.reason.code) == (
            "system", "privacy_erasure_deadline", "privacy_erasure")
        new = [m for m in db.session.scalars(select(OutboxMessage)) if m.id not in before]
        assert new and all(m.recipient_type == "hr_user" and m.recipient_id == recruiter
                           for m in new)
        assert db.session.get(Interview, started.id).status == InterviewStatus.SCHEDULED
        assert db.session.get(Candidate, iv.candidate_id).name == "已匿名化"
        actions = [e.action for e in db.session.scalars(
            select(AuditEntry).order_by(AuditEntry.id))]
        assert actions.index("interview.cancelled") < actions.index("candidate.anonymised")
        assert "interview.cancel_approved" in actions
    assert _run(app, due + timedelta(hours=1)) == 0   # done once


def test_webhook_deliveries_about_the_candidate_lose_the_name(app):
    from app.models import WebhookDelivery

    iv = _ended(app, NOW - timedelta(days=DAYS + 1))
    other = _ended(app, NOW - timedelta(days=10), openid="recent")
    factories.webhook_endpoint(app, "https://ats.example.com/hook")
    for target, name in ((iv, "张三"), (other, "李四")):
        factories.webhook_event(app, event_id=f"interview.cancelled:{target.id}", payload={
            "occurred_at": "2026-05-01T10:00:00+08:00",
            "interview": {"id": target.public_id, "number": target.number},
            "candidate": {"ref": "ATS-1", "name": name}, "reason": None,
            "actor": {"type": "candidate", "id": 1}})
    assert _run(app, NOW) == 1
    with app.app_context():
        payloads = {d.payload["interview"]["id"]: d.payload["candidate"]
                    for d in db.session.scalars(select(WebhookDelivery))}
    assert payloads[iv.public_id] == {"ref": f"candidate-{iv.candidate_id}",
                                      "name": "已匿名化"}
    assert payloads[other.public_id]["name"] == "李四"


def test_a_candidate_never_interviewed_is_kept_the_retention_period_from_import(app):
    old = factories.candidate(app, "王五", created_at=NOW - timedelta(days=DAYS, seconds=1))
    new = factories.candidate(app, "赵六", created_at=NOW - timedelta(days=DAYS - 1))
    assert _run(app, NOW) == 1
    with app.app_context():
        assert db.session.get(Candidate, old).name == "已匿名化"
        assert db.session.get(Candidate, new).name == "赵六"
