"""The system cancels interviews left unconfirmed past their deadline, through the same
policy and writer as every other cancel: reason 超时未确认, candidate and team told, the
end state says 系统取消, and a second run (or a second worker) does nothing more."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import AuditEntry, Cancellation, Interview, InterviewStatus, OutboxMessage
from app.services.cancellation import system
from tests.factories import API, bearer, mp_token


def _overdue(app, demo, n=2):
    """Make the first n demo interviews' confirmation deadline pass; confirm the next."""
    with app.app_context():
        ids = list(db.session.scalars(select(Interview.id).order_by(Interview.id)))
        db.session.execute(update(Interview).where(Interview.id.in_(ids[:n]))
                           .values(confirm_by=utcnow() - timedelta(minutes=5)))
        db.session.execute(update(Interview).where(Interview.id == ids[n])
                           .values(confirm_by=utcnow() - timedelta(minutes=5),
                                   status=InterviewStatus.CONFIRMED))
        db.session.commit()
        return ids[:n], ids[n]


def test_unconfirmed_interviews_are_cancelled_by_the_system(app, demo, client):
    overdue, confirmed = _overdue(app, demo)
    with app.app_context():
        assert system.auto_cancel_unconfirmed() == 2
        for iv_id in overdue:
            iv = db.session.get(Interview, iv_id, populate_existing=True)
            assert iv.status == InterviewStatus.CANCELLED
            c = db.session.scalars(select(Cancellation).where(
                Cancellation.interview_id == iv_id)).one()
            assert (c.actor_type, c.actor_id, c.actor_rule, c.reason.label) == \
                ("system", None, "auto_cancel_unconfirmed", "超时未确认")
            kinds = {m.kind for m in db.session.scalars(select(OutboxMessage).where(
                OutboxMessage.interview_id == iv_id))}
            assert kinds == {"candidate_cancelled_by_company", "staff_interview_cancelled"}
        # confirmed in time: untouched; nothing else is due
        assert db.session.get(Interview, confirmed).status == InterviewStatus.CONFIRMED
        assert db.session.scalar(select(func.count()).select_from(Cancellation)) == 2
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "interview.cancelled",
            AuditEntry.actor_type == "system")) == 2
        # a second run (another worker, the next minute) finds nothing
        assert system.auto_cancel_unconfirmed() == 0
        assert db.session.scalar(select(func.count()).select_from(Cancellation)) == 2
        public_id = db.session.get(Interview, overdue[0]).public_id
        openid = next(c["openid"] for c in demo["candidates"]
                      if c["interview_ids"][0] == public_id)
    # the candidate sees who cancelled
    token = mp_token(client, openid)
    body = client.get(f"{API}/interviews/{public_id}", headers=bearer(token)).get_json()
    assert (body["status"], body["cancelled_by"]) == ("cancelled", "system")


def test_without_a_deadline_the_invitation_plus_the_rule_counts(app, demo):
    with app.app_context():
        first = db.session.scalars(select(Interview).order_by(Interview.id)).first()
        db.session.execute(update(Interview).values(confirm_by=None))
        db.session.execute(update(Interview).where(Interview.id == first.id).values(
            created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
        assert system.auto_cancel_unconfirmed() == 1  # 24 h by default
        assert db.session.get(Interview, first.id, populate_existing=True).status == \
            InterviewStatus.CANCELLED


def test_jobs_are_listed_and_run_at_a_given_clock(app, demo, runner):
    listed = runner.invoke(args=["jobs", "list"])
    assert listed.exit_code == 0 and "auto_cancel_unconfirmed" in listed.output
    with app.app_context():
        first = db.session.scalars(select(Interview).order_by(Interview.id)).first()
        deadline = first.confirm_by
    # before the deadline nothing is due; just after it, that interview is
    early = runner.invoke(args=["jobs", "run", "auto_cancel_unconfirmed",
                                "--now", (deadline - timedelta(minutes=1)).isoformat()])
    assert early.exit_code == 0 and early.output.strip().endswith(": 0"), early.output
    late = runner.invoke(args=["jobs", "run", "auto_cancel_unconfirmed",
                               "--now", (deadline + timedelta(minutes=1)).isoformat()])
    assert late.exit_code == 0, late.output
    assert int(late.output.strip().rsplit(":", 1)[1]) >= 1
    with app.app_context():
        assert db.session.get(Interview, first.id, populate_existing=True).status == \
            InterviewStatus.CANCELLED
    for bad in (["jobs", "run", "nope"], ["jobs", "run", "auto_cancel_unconfirmed", "--now",
                                          "yesterday"],
                ["jobs", "run", "auto_cancel_unconfirmed", "--now", "2026-12-01T09:00:00"]):
        result = runner.invoke(args=bad)
        assert result.exit_code != 0 and "Error" in result.output
