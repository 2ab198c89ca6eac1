"""The daily digest: yesterday is the Beijing day (not the UTC one), it goes out from
08:00 Beijing, once per HR owner per day, in the owner's scope: cancellations by reason,
pending approvals, candidates nobody reached, rescheduling promises at risk."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.jobs import digest
from app.models import (
    CancellationState,
    OutboxMessage,
    OutboxStatus,
    ReschedulePromise,
)
from tests import factories


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


AT_8 = bj(2026, 12, 2, 8, 0)   # Wednesday 08:00 Beijing = 00:00 UTC


def _digests(app):
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "staff_daily_digest").order_by(OutboxMessage.id)).all()
        return [(m.recipient_id, m.event, dict(m.context)) for m in rows]


def _world(app):
    tech = factories.hr_user(app, "tech", display_name="技术招聘")
    sales = factories.hr_user(app, "sales", departments=("销售部",))
    position = factories.position(app, recruiter_id=tech)
    sales_position = factories.position(app, "销售代表", department="销售部", recruiter_id=sales)
    ivs = [factories.interview(app, f"AI-2026-12-01-{i:03d}", position_id=position)
           for i in range(6)]
    conflict = factories.cancel_reason(app, label="时间冲突")
    personal = factories.cancel_reason(app, label="个人原因")
    for iv, reason, at in ((ivs[0], conflict, bj(2026, 12, 1, 23, 30)),
                           (ivs[1], personal, bj(2026, 12, 1, 0, 10)),   # Nov 30 in UTC
                           (ivs[2], conflict, bj(2026, 12, 2, 0, 10)),   # Dec 1 in UTC
                           (ivs[3], conflict, bj(2026, 11, 30, 23, 59))):
        factories.cancellation(app, iv.id, reason_id=reason, requested_at=at, decided_at=at)
    factories.cancellation(app, ivs[4].id, reason_id=personal,
                           state=CancellationState.REQUESTED, requested_at=bj(2026, 12, 1, 9))
    factories.outbox_message(app, ivs[5].id, status=OutboxStatus.UNREACHABLE,
                             recipient_id=ivs[5].candidate_id,
                             created_at=bj(2026, 12, 1, 12, 0))
    sales_iv = factories.interview(app, "AI-2026-12-01-100", position_id=sales_position)
    factories.cancellation(app, sales_iv.id, reason_id=conflict,
                           requested_at=bj(2026, 12, 1, 10), decided_at=bj(2026, 12, 1, 10))
    return tech, sales, ivs


def _promise(app, iv, due_at):
    cancellation = factories.cancellation(app, iv.id, requested_at=due_at - timedelta(days=5))
    with factories.committed(app) as session:
        session.add(ReschedulePromise(cancellation_id=cancellation, interview_id=iv.id,
                                      candidate_id=iv.candidate_id,
                                      position_id=iv.position_id, due_at=due_at))


def test_before_eight_beijing_nothing_is_sent(app):
    _world(app)
    with app.app_context():
        assert digest.run(AT_8 - timedelta(minutes=1)) == 0
    assert _digests(app) == []


def test_yesterday_is_the_beijing_day_and_each_owner_gets_their_scope_once(app):
    tech, sales, ivs = _world(app)
    with app.app_context():
        assert digest.run(AT_8) == 2
        assert digest.run(AT_8 + timedelta(hours=3)) == 0   # once per user per day
    by_user = {user: (event, ctx) for user, event, ctx in _digests(app)}
    event, ctx = by_user[tech]
    assert event == "digest:2026-12-01" and ctx["day"] == "2026-12-01"
    # 23:30 and 00:10 Beijing on Dec 1 count; 00:10 on Dec 2 and Nov 30 do not
    assert ctx["cancelled"] == 2 and ctx["by_reason"] in ("个人原因1场、时间冲突1场",
                                                          "时间冲突1场、个人原因1场")
    assert ctx["pending"] == 1 and ctx["failed"] == 1 and ctx["at_risk"] == 0
    assert by_user[sales][1]["cancelled"] == 1 and by_user[sales][1]["pending"] == 0


def test_the_next_day_brings_the_next_digest(app):
    _world(app)
    with app.app_context():
        digest.run(AT_8)
        assert digest.run(AT_8 + timedelta(days=1)) == 2
    assert [e for _, e, _ in _digests(app)][-1] == "digest:2026-12-02"


def test_promises_due_within_one_working_day_are_at_risk(app):
    tech, _, ivs = _world(app)
    _promise(app, ivs[0], bj(2026, 12, 3, 18, 0))   # due Thursday: warned Wednesday
    _promise(app, ivs[1], bj(2026, 12, 10, 18, 0))  # next week: not yet
    with app.app_context():
        digest.run(AT_8)
    ctx = {u: c for u, _, c in _digests(app)}[tech]
    assert ctx["at_risk"] == 1


def test_a_promise_due_after_the_weekend_is_at_risk_on_friday(app):
    tech, _, ivs = _world(app)
    _promise(app, ivs[0], bj(2026, 12, 7, 18, 0))   # Monday
    with app.app_context():
        digest.run(bj(2026, 12, 4, 8, 0))           # Friday
    ctx = {u: c for u, _, c in _digests(app)}[tech]
    assert ctx["at_risk"] == 1


def test_the_digest_fits_the_oa_template_and_reads_in_chinese(app):
    from templates_msg import render, render_plain

    tech, _, _ = _world(app)
    with app.app_context():
        digest.run(AT_8)
        context = {u: c for u, _, c in _digests(app)}[tech]
        rendered = render("staff_daily_digest", context, app="oa", config=app.config,
                          open_token="t")
        text = render_plain("staff_daily_digest", context).text
    assert set(rendered.data) == {"thing1", "thing2", "time3", "thing4"}
    assert rendered.data["thing2"]["value"] == "取消2场，待审批1场"
    assert rendered.data["time3"]["value"] == "2026年12月01日 23:59"
    assert all(len(v["value"]) <= 20 for v in rendered.data.values())
    assert "2026-12-01" in text and "时间冲突1场" in text


def test_operators_run_the_digest_at_a_clock_from_the_cli(app, runner):
    _world(app)
    early = runner.invoke(args=["jobs", "run", "daily_digest",
                                "--now", "2026-12-02T07:59:00+08:00"])
    assert early.exit_code == 0 and early.output.strip() == "daily_digest: 0"
    result = runner.invoke(args=["jobs", "run", "daily_digest",
                                 "--now", "2026-12-02T08:00:00+08:00"])
    assert result.exit_code == 0 and result.output.strip() == "daily_digest: 2"
    for name in ("watchdogs", "privacy_lifecycle"):
        other = runner.invoke(args=["jobs", "run", name, "--now", "2026-12-02T08:00:00+08:00"])
        assert other.exit_code == 0, other.output
    listing = runner.invoke(args=["jobs", "list"]).output
    assert "daily_digest\tdaily from 08:00" in listing and "watchdogs" in listing
