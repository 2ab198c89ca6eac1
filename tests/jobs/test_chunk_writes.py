"""A chunk of cancels is one transaction however its writes travel (on PostgreSQL they go
out pipelined and an error surfaces only at the end): a write that fails leaves nothing
of the chunk, and a later run does the whole chunk."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.core import sqlwrite
from app.core.timeutil import utcnow
from app.extensions import db
from app.models import AuditEntry, Cancellation, Interview, InterviewStatus, OutboxMessage
from app.services.cancellation import system, write


def _make_overdue(n=3) -> list[int]:
    ids = list(db.session.scalars(select(Interview.id).where(
        Interview.status == InterviewStatus.SCHEDULED).order_by(Interview.id).limit(n)))
    db.session.execute(update(Interview).where(Interview.id.in_(ids))
                       .values(confirm_by=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    return ids


def _counts():
    return tuple(db.session.scalar(select(func.count()).select_from(t))
                 for t in (Cancellation, AuditEntry, OutboxMessage))


def test_a_write_failing_at_the_end_of_a_chunk_leaves_nothing_of_it(app, demo, monkeypatch):
    real_write = write.webhooks.write

    def failing(writer, rows):
        # the chunk's last write fails in the database (after the others were sent)
        sql = "INSERT INTO no_such_table (x) VALUES (1)"
        if isinstance(writer, sqlwrite.Pipelined):
            writer.send(sql, ())
        else:
            writer.exec_driver_sql(sql)
        return 0

    with app.app_context():
        ids = _make_overdue()
        before = _counts()
        monkeypatch.setattr(write.webhooks, "write", failing)
        with pytest.raises(Exception, match="no_such_table"):
            system.auto_cancel_unconfirmed()
        db.session.rollback()
        assert _counts() == before
        assert set(db.session.scalars(select(Interview.status).where(
            Interview.id.in_(ids)))) == {InterviewStatus.SCHEDULED}

        monkeypatch.setattr(write.webhooks, "write", real_write)
        assert system.auto_cancel_unconfirmed() == len(ids)
        cancelled = db.session.scalars(select(Cancellation).order_by(Cancellation.id)).all()
        assert sorted(c.interview_id for c in cancelled) == sorted(ids)
        # each cancellation's entry and messages name its own id
        for c in cancelled:
            entry = db.session.scalars(select(AuditEntry).where(
                AuditEntry.action == "interview.cancelled",
                AuditEntry.object_id == c.interview_id)).one()
            assert entry.data["cancellation_id"] == c.id
            events = set(db.session.scalars(select(OutboxMessage.event).where(
                OutboxMessage.interview_id == c.interview_id)))
            assert events == {f"interview.cancelled:{c.id}"}
