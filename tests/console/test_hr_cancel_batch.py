"""HR cancels one and batch-cancels many, through the console, on both backends.

- One cancel: the candidate gets the company's message in the seed's wording, the chosen
  team members are told (not the HR user who acted), webhooks fire, the end state says
  "company" with the user's name, the API says cancelled_by=company.
- A batch: one message per candidate and one summary per staff member (never one per
  interview), one audit entry per interview plus the batch record, the same preview
  confirmed twice is one batch, rows changed since the preview are skipped and listed,
  and the writes are set-based (the statement count does not grow with the rows).
- A request never takes a second pooled connection: with a pool of one, the console's
  cancel, approval and batch and the candidate's cancel all complete.
"""
from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import event, func, select, update

from app import create_app
from app.extensions import db
from app.models import (
    AuditEntry,
    CancelBatch,
    Cancellation,
    HrUser,
    Interview,
    InterviewSession,
    InterviewStatus,
    OutboxMessage,
    Position,
)
from app.models.webhook import WebhookDelivery
from app.services import cancellation
from app.services.cancellation import batch
from app.services.users.actor import Actor
from tests import factories
from tests.factories import CSRF_RE, console_client, csrf_token


def _csrf(client, path="/console/interviews"):
    return csrf_token(client, path)


def _user(username) -> HrUser:
    return db.session.scalars(select(HrUser).where(HrUser.username == username)).one()


def _tech_interview(app):
    with app.app_context():
        iv = db.session.scalars(select(Interview).join(Interview.position).where(
            Position.department == "技术部", Position.cancel_requires_review.is_(False))
            .order_by(Interview.id)).first()
        return iv.public_id, iv.id, iv.candidate_id


def test_hr_cancel_tells_candidate_and_team_and_fires_webhooks(app, demo):
    factories.webhook_endpoint(app, "http://127.0.0.1:9/hook")
    public_id, iv_id, candidate_id = _tech_interview(app)
    client = console_client(app, "specialist")
    page = client.get(f"/console/interviews/{public_id}").get_data(as_text=True)
    for label in ("取消面试", "取消原因", "说明", "确认取消", "为候选人重新安排"):
        assert label in page
    r = client.post(f"/console/interviews/{public_id}/cancel", data={
        "csrf_token": _csrf(client), "reason_code": "position_paused", "note": "编制冻结",
        "notify": ["candidate", "recruiter", "hiring_manager", "interviewer"],
        "reschedule": "y"})
    assert r.status_code == 302
    with app.app_context():
        specialist, manager = _user("specialist"), _user("manager")
        interviewer = _user("interviewer")
        iv = db.session.get(Interview, iv_id)
        assert iv.status == InterviewStatus.CANCELLED
        c = db.session.scalars(select(Cancellation).where(
            Cancellation.interview_id == iv_id)).one()
        assert (c.actor_type, c.actor_id, c.note) == ("hr", specialist.id, "编制冻结")
        assert c.reschedule_by is not None  # the promise of a new slot is recorded
        told = sorted((m.kind, m.recipient_type, m.recipient_id) for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.interview_id == iv_id)))
        assert told == sorted([
            ("candidate_cancelled_by_company", "candidate", candidate_id),
            ("staff_interview_cancelled", "hr_user", manager.id),
            ("staff_interview_cancelled", "hr_user", interviewer.id)])  # not the actor
        message = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "candidate_cancelled_by_company")).one()
        from templates_msg.render import render_plain

        text = render_plain(message.kind, message.context).text
        assert "因岗位暂停招聘" in text and "个工作日内为您重新安排" in text
        [delivery] = db.session.scalars(select(WebhookDelivery)).all()
        assert delivery.payload["actor"] == {"type": "hr", "id": specialist.id}
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.object_id == iv_id, AuditEntry.action == "interview.cancelled")) == 1
    detail = client.get(f"/console/interviews/{public_id}").get_data(as_text=True)
    assert "公司取消" in detail and "张专员" in detail


def test_hr_cancel_tells_only_whom_hr_chose(app, demo):
    public_id, iv_id, candidate_id = _tech_interview(app)
    client = console_client(app, "manager")
    client.post(f"/console/interviews/{public_id}/cancel", data={
        "csrf_token": _csrf(client), "reason_code": "position_filled",
        "notify": ["candidate"]})
    with app.app_context():
        told = [(m.kind, m.recipient_id) for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.interview_id == iv_id))]
    assert told == [("candidate_cancelled_by_company", candidate_id)]


def test_hr_cancel_refusals_are_chinese_and_write_nothing(app, demo):
    public_id, iv_id, _ = _tech_interview(app)
    client = console_client(app, "specialist")
    # a candidate-side reason is not a company reason
    r = client.post(f"/console/interviews/{public_id}/cancel", data={
        "csrf_token": _csrf(client), "reason_code": "time_conflict"}, follow_redirects=True)
    assert "请选择有效的取消原因" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Interview, iv_id).status == InterviewStatus.SCHEDULED
        assert db.session.scalar(select(func.count()).select_from(Cancellation)) == 0
    # without the CSRF token the form is refused
    assert client.post(f"/console/interviews/{public_id}/cancel",
                       data={"reason_code": "position_paused"}).status_code == 400


def _batch_session(app):
    """The demo session with the most interviews in 技术部 / AI实验室 (no review)."""
    with app.app_context():
        rows = db.session.execute(
            select(Interview.session_id, func.count()).join(Interview.position)
            .where(Position.department != "销售部", Position.cancel_requires_review.is_(False))
            .group_by(Interview.session_id).order_by(func.count().desc())).all()
        return rows[0][0]


def test_batch_cancel_one_message_per_candidate_one_summary_per_staff(app, demo):
    session_id = _batch_session(app)
    client = console_client(app, "manager")
    r = client.post("/console/batch", data={"csrf_token": _csrf(client), "step": "preview",
                                            "session_id": session_id,
                                            "reason_code": "system_failure"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "确认批量取消" in html
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    csrf = CSRF_RE.search(html).group(1)
    with app.app_context():
        ids = list(db.session.scalars(select(Interview.id).where(
            Interview.session_id == session_id)))
        booked = db.session.get(InterviewSession, session_id).booked
    first = client.post("/console/batch/confirm", data={"csrf_token": csrf, "token": token})
    again = client.post("/console/batch/confirm", data={"csrf_token": csrf, "token": token})
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]  # one batch
    result = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "已取消" in result and "结果" in result
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CancelBatch)) == 1
        b = db.session.scalars(select(CancelBatch)).one()
        assert (b.status.value, b.total, b.cancelled, b.skipped) == ("done", len(ids),
                                                                     len(ids), [])
        statuses = set(db.session.scalars(select(Interview.status).where(
            Interview.id.in_(ids))))
        assert statuses == {InterviewStatus.CANCELLED}
        messages = db.session.scalars(select(OutboxMessage)).all()
        per_candidate = Counter(m.recipient_id for m in messages
                                if m.recipient_type == "candidate")
        assert len(per_candidate) == len(ids) and set(per_candidate.values()) == {1}
        per_staff = Counter(m.recipient_id for m in messages if m.recipient_type == "hr_user")
        assert set(per_staff.values()) == {1}
        assert {m.kind for m in messages if m.recipient_type == "hr_user"} == \
            {"staff_batch_cancelled"}
        manager = _user("manager")
        assert manager.id not in per_staff  # the one who acted knows
        audit = Counter(a.action for a in db.session.scalars(select(AuditEntry)))
        assert audit["interview.cancelled"] == len(ids)
        assert audit["batch.created"] == audit["batch.finished"] == 1
        assert {c.batch_id for c in db.session.scalars(select(Cancellation))} == {b.public_id}
        # the freed places go back to the session
        assert db.session.get(InterviewSession, session_id,
                              populate_existing=True).booked == booked - len(ids)


def test_batch_skips_and_lists_interviews_changed_since_the_preview(app, demo):
    session_id = _batch_session(app)
    with app.app_context():
        actor = Actor.hr(_user("manager"))
        preview = batch.preview(actor, batch.Criteria(session_id=session_id),
                                reason_code="system_failure")
        changed = preview.sample[0]
        db.session.execute(update(Interview).where(Interview.id == changed.id)
                           .values(status=InterviewStatus.CONFIRMED,
                                   version=Interview.version + 1))
        db.session.commit()
        done = batch.confirm(actor, preview.token)
        assert done.cancelled == preview.total - 1
        assert [s["number"] for s in done.skipped] == [changed.number]
        assert "变更" in done.skipped[0]["why"]
        assert db.session.get(Interview, changed.id).status == InterviewStatus.CONFIRMED


def test_batch_is_refused_to_specialists_in_the_service_too(app, demo):
    with app.app_context():
        actor = Actor.hr(_user("specialist"))
        with pytest.raises(cancellation.policy.PermissionDenied):
            batch.preview(actor, batch.Criteria(session_id=_batch_session(app)),
                          reason_code="system_failure")


def _statements(app):
    seen = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)
    event.listen(engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("count", [300, 1300])
def test_batch_writes_are_set_based(app, demo, count):
    """The statements a batch runs grow with the chunks (1000 rows), not with the rows."""
    from tests.console.batch_rows import add_interviews

    with app.app_context():
        session_id = add_interviews(count)
        actor = Actor.hr(_user("manager"))
        preview = batch.preview(actor, batch.Criteria(session_id=session_id),
                                reason_code="system_failure")
        assert preview.total == count
        created = batch.confirm(actor, preview.token)
        seen, stop = _statements(app)
        try:
            batch.run(created.id, actor=actor)
        finally:
            stop()
        b = db.session.get(CancelBatch, created.id, populate_existing=True)
        assert (b.status.value, b.cancelled, b.skipped) == ("done", count, [])
        chunks = -(-count // 1000)
        # per chunk: lock batch, lock and read rows, endpoints, 1 interview UPDATE,
        # 1 session UPDATE, INSERTs (cancellations, audit, outbox; each in at most
        # ceil(rows/1000)-per-statement batches), progress; plus the start and the finish
        assert len(seen) <= 8 + 14 * chunks, Counter(s[:60] for s in seen).most_common(4)


def test_one_pooled_connection_is_enough_for_every_hr_action(app, demo, backend):
    """A console request never waits on itself for a second connection."""
    cfg = backend.config()
    cfg.SQLALCHEMY_ENGINE_OPTIONS = {**cfg.SQLALCHEMY_ENGINE_OPTIONS, "pool_size": 1,
                                     "max_overflow": 0, "pool_timeout": 3}
    if backend.name == "sqlite":
        cfg.SQLALCHEMY_ENGINE_OPTIONS.pop("pool_pre_ping", None)
    small = create_app(cfg)
    try:
        public_id, iv_id, _ = _tech_interview(small)
        client = console_client(small, "specialist")
        r = client.post(f"/console/interviews/{public_id}/cancel", data={
            "csrf_token": _csrf(client), "reason_code": "position_paused"})
        assert r.status_code == 302
        with small.app_context():
            assert db.session.get(Interview, iv_id).status == InterviewStatus.CANCELLED
            review = db.session.scalars(select(Interview).join(Interview.position).where(
                Position.cancel_requires_review.is_(True))).first()
            outcome = cancellation.cancel_by_candidate(
                candidate_id=review.candidate_id, interview_public_id=review.public_id,
                reason_code="personal")
        r = client.post(f"/console/approvals/{outcome.cancellation_id}/approve",
                        data={"csrf_token": _csrf(client, "/console/approvals")})
        assert r.status_code == 302
        manager = console_client(small, "manager")
        r = manager.post("/console/batch", data={
            "csrf_token": _csrf(manager), "step": "preview",
            "session_id": _batch_session(small), "reason_code": "system_failure"})
        token = re.search(r'name="token" value="([^"]+)"', r.get_data(as_text=True)).group(1)
        r = manager.post("/console/batch/confirm", data={
            "csrf_token": CSRF_RE.search(r.get_data(as_text=True)).group(1), "token": token})
        assert r.status_code == 302
        assert "结果" in manager.get(r.headers["Location"]).get_data(as_text=True)
    finally:
        with small.app_context():
            db.engine.dispose()


def test_a_large_batch_runs_in_the_worker(app, demo, monkeypatch):
    """Above INLINE_LIMIT the confirm only queues; the worker runs it to the end."""
    from app.jobs.worker import drain

    monkeypatch.setattr(batch, "INLINE_LIMIT", 0)
    session_id = _batch_session(app)
    with app.app_context():
        actor = Actor.hr(_user("manager"))
        preview = batch.preview(actor, batch.Criteria(session_id=session_id),
                                reason_code="system_failure")
        queued = batch.confirm(actor, preview.token)
        assert (queued.status.value, queued.processed) == ("queued", 0)
        public_id = queued.public_id
    client = console_client(app, "manager")
    status = client.get(f"/console/batch/{public_id}/status.json").get_json()
    assert status["status"] == "queued" and status["total"] == preview.total
    drain(app)
    status = client.get(f"/console/batch/{public_id}/status.json").get_json()
    assert (status["status"], status["processed"], status["cancelled"]) == \
        ("done", preview.total, preview.total)
    with app.app_context():  # every message rendered and went (candidates and summaries)
        statuses = Counter((m.kind, m.status.value)
                           for m in db.session.scalars(select(OutboxMessage)))
    assert {status for _kind, status in statuses} <= {"sent", "delivered"}, statuses
    assert any(kind == "staff_batch_cancelled" for kind, _ in statuses)
    # the specialist cannot see the batch
    assert console_client(app, "specialist").get(f"/console/batch/{public_id}").status_code == 404
